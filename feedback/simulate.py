"""Synthetic production traffic for one landing day, with the ground truth of everything planted.

``simulate_day`` writes ``LANDING/dt=DATE/events-0000N.jsonl`` (the last file gzipped) in the
event contract of ``feedback.contract`` and ``LANDING/_truth/dt=DATE.json`` describing what a
perfect pipeline should find: malformed lines and their exact reject reasons, re-deliveries, every
planted PII value, near-duplicates, junk, orphan and cross-day feedback, consent, deletions and,
per model version, the latent answer quality and the feedback it earned. The truth format is
documented in docs/events.md.

Output is byte-for-byte deterministic per (seed, date, users, model_versions, previous day's
model_versions). The generation runs in phases whose random streams are independent, so that the
*structure* of a day (ids, users, conversations, prompts, which interactions are junk or
duplicates) does not depend on the model versions: that is what lets a later day regenerate the
previous day's interactions to refer to them.

Model versions: traffic is split evenly, per conversation, among ``model_versions``; the i-th
version (0-based, in the order given) has mean answer quality
``min(base_mean_quality + i * quality_step, max_mean_quality)``; an interaction's quality is
``u ** (1 / mean - 1)`` for a uniform latent ``u``, whose mean is exactly ``mean``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import random
import re
import sys
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from feedback import contract as c

# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class SimulateConfig:
    # Conversations per user per day (inclusive range) and turn-count weights for 1..4 turns:
    # with feedback and the extras below this gives about 10 events per user per day.
    conversations_per_user: tuple[int, int] = (1, 4)
    turn_weights: tuple[float, ...] = (0.35, 0.30, 0.20, 0.15)
    # Share of conversations that open with a system message (OpenAI chat format).
    system_message_rate: float = 0.7
    # Share of users who run one A/B conversation (two answers, one comparison) per day.
    ab_rate: float = 0.2
    # Chance that an interaction gets feedback at all; busy products see 30-70 %.
    feedback_rate: float = 0.62
    # Share of user prompts carrying PII; support requests carry more.
    prompt_pii_rate: float = 0.22
    support_pii_rate: float = 0.75
    # Share of answers that echo a PII value of the prompt back (assistants do this).
    response_echo_rate: float = 0.35
    # Shares, relative to the day's clean interactions, of each planted irregularity.
    junk_rate: float = 0.02
    template_rate: float = 0.012
    copy_edit_rate: float = 0.02
    popular_rate: float = 0.03
    cross_day_repost_rate: float = 0.01
    cross_day_feedback_rate: float = 0.02
    orphan_feedback_rate: float = 0.01
    # Shares of all lines that are malformed / re-delivered copies.
    malformed_rate: float = 0.01
    redelivered_rate: float = 0.01
    # Shares of users: deletion requests per day; consent opt-out and consent omitted (per seed).
    deletion_rate: float = 0.01
    opt_out_share: float = 0.08
    no_consent_share: float = 0.07
    # Popular questions asked by many users, drawn from a pool fixed by the seed only, so the
    # same questions recur on later days (cross-day dedup).
    popular_pool_size: int = 40
    # Model quality ladder (see module docstring).
    base_mean_quality: float = 0.55
    quality_step: float = 0.10
    max_mean_quality: float = 0.85
    # Files per day; the last one is gzipped so that readers handle both.
    files: int = 4
    # Junk "very long" responses exceed this many characters.
    long_chars: int = 20_000


DEFAULT_CONFIG = SimulateConfig()
DAY_MS = 86_400_000

# --------------------------------------------------------------------------------------------
# Text material. Nothing here is a person name: every name in the output is planted PII.

WORDS_EXTRA = (
    "alpha beta cache queue shard batch token vector matrix buffer parser router widget ledger "
    "invoice cart basket report summary draft outline budget agenda bucket stream cursor handle"
).split()

SYSTEM_PROMPTS = (
    "You are a helpful assistant.",
    "You are a helpful, concise assistant. Answer in English.",
    "You are the customer-support assistant of an online shop. Be polite and precise.",
    "You are an expert programmer. Prefer short, working code examples.",
    "You are a friendly travel and lifestyle assistant.",
    "You are a careful assistant. Do not give medical diagnoses; suggest seeing a professional.",
)

TOPICS = ("coding", "writing", "support", "travel", "health", "trivia")

CODING = {
    "lang": ["Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "Ruby", "Kotlin",
             "PHP", "Swift", "Scala"],
    "task": ["reverse a list", "read a CSV file", "parse a JSON string", "sort a dictionary by value",
             "remove duplicates from an array", "make an HTTP GET request", "retry a failed request",
             "write a unit test for a function", "connect to a Postgres database",
             "read environment variables", "format a date as ISO 8601", "split a string on commas",
             "merge two sorted lists", "debounce a function", "count word frequencies",
             "flatten a nested list", "read a file line by line", "validate an email field",
             "paginate an API", "cache the result of a slow function", "run tasks in parallel",
             "convert a timestamp to UTC", "compress a folder", "hash a password"],
    "error": ["KeyError", "NullPointerException", "TypeError: undefined is not a function",
              "index out of range", "segmentation fault", "connection refused", "timeout error",
              "permission denied", "stack overflow", "UnicodeDecodeError", "deadlock",
              "borrow checker error"],
    "ask": [
        "How do I {task} in {lang}?",
        "what's the cleanest way to {task} with {lang}? my variable is called {w1}_{w2}",
        "Can you write a {lang} function that can {task}? It should take {w1} as input.",
        "I'm getting a {error} when I try to {task} in {lang}. The {w1} module calls {w2}(). What am I doing wrong?",
        "In {lang}, is there a built-in way to {task}, or do I need a library? This is for our {w1} {w2} service.",
        "Explain like I'm new to {lang}: how would you {task}? Bonus if it handles {w1} edge cases.",
    ],
    "intro": [
        "Here is an idiomatic way to {task} in {lang}.",
        "Sure. In {lang} you can {task} without any extra dependency.",
        "The {error} usually means the input is not what the code expects. Here is a version that works:",
        "Good question: to {task} in {lang}, keep the logic in one small function.",
    ],
    "item": [
        "Keep the `{w1}` logic in its own function so you can test it in isolation.",
        "Validate the input first: an empty `{w2}` is the most common cause of a {error}.",
        "Use the standard library where you can; it already handles the {w1} corner cases.",
        "Name things after what they hold, for example `{w1}_by_{w2}` instead of `data`.",
        "Add a test with an empty input, one element and a large input of {n} items.",
        "If performance matters, measure first: {n} items usually take well under a second.",
        "Log the failing `{w2}` value (not the whole payload) when you catch the error.",
        "Prefer returning a new value over mutating `{w1}` in place; it avoids surprises in callers.",
        "Wrap network and file access in a retry with backoff, and set a timeout of {n} ms.",
        "Document the expected format of `{w1}` in the docstring, with one example.",
        "Run the linter: it often points at the exact line that raises the {error}.",
        "For {n}+ records, stream the data instead of loading it all in memory.",
    ],
    "outro": [
        "Let me know if you want a version with type hints and tests.",
        "If you paste the full traceback I can point at the exact line.",
        "This runs as-is; adjust the names to your codebase.",
        "Happy to show the async version too.",
    ],
    "wrong": [
        "You can't {task} in {lang}; the language simply doesn't support it, so switch to another language.",
        "To {task} in {lang}, just delete the `{w1}` variable and restart the computer; the {error} will go away.",
        "In {lang} you {task} by calling `{w2}.magic()` which is built in since version 1.0.",
    ],
    "follow": [
        "Thanks! Can you add error handling for the {w1} case?",
        "That gives me a {error} on line {n}. Any idea?",
        "Could you show the same thing in {lang2}?",
        "Can you explain the second point about {w2} in more detail?",
        "How would I write a test for that with {n} sample {w1} rows?",
    ],
}

WRITING = {
    "kind": ["cover letter", "wedding toast", "product description", "blog intro", "apology email",
             "LinkedIn summary", "haiku", "short story opening", "thank-you note",
             "resignation letter", "birthday message", "team announcement", "speech opening",
             "newsletter blurb", "out-of-office reply"],
    "subject": ["a ceramic coffee mug", "my sister's graduation", "a job as a data analyst",
                "remote work", "our new {w1} feature", "a {w1} startup", "a late delivery",
                "autumn in the mountains", "my best friend's wedding", "a bakery opening",
                "leaving a job after {n} years", "a charity run", "a {w1}-themed party",
                "a used bike for sale", "a community garden"],
    "tone": ["friendly", "formal", "funny", "heartfelt", "concise", "warm", "professional",
             "playful"],
    "ask": [
        "Write a {tone} {kind} about {subject}.",
        "Help me write a {kind} for {subject}. Keep it {tone} and under {n} words.",
        "can you draft a {tone} {kind}? it's about {subject}, mention the word {w1}",
        "I need a {kind} about {subject}, {tone} tone, with a line about {w2}.",
        "Please rewrite my {kind} about {subject} to sound more {tone}: '{w1} {w2} is great and we like it'",
    ],
    "intro": [
        "Here is a {tone} {kind} about {subject}:",
        "Of course. A {tone} draft you can adapt:",
        "Here's a first version; tell me what to change:",
        "Sure, here is a {kind} in a {tone} voice:",
    ],
    "item": [
        "It all started with {subject}, and somehow it became the best part of the year.",
        "Every detail matters, from the {w1} to the {w2}, and it shows.",
        "I am grateful for the chance to share this moment with all of you.",
        "There is something about {subject} that makes people slow down and smile.",
        "After {n} days of planning, the {w1} finally came together.",
        "What I will remember most is the laughter, the {w2}, and the people.",
        "We built it for people who care about {w1} as much as we do.",
        "Thank you for your patience while we sorted out the {w2}.",
        "In short: it is simple, it is {tone}, and it works.",
        "Here is to many more {w1}-filled afternoons together.",
        "I would welcome the chance to talk about how my {w1} experience fits your team.",
        "The light falls softly on {subject}; the {w2} waits.",
    ],
    "outro": [
        "Feel free to adjust the length or the tone.",
        "Want a shorter or a more formal version?",
        "I kept it {tone}; I can make it punchier if you like.",
        "Add a personal anecdote in the second line to make it yours.",
    ],
    "wrong": [
        "Here is your {kind}: Dear Sir or Madam, please find attached the quarterly tax report for {w1}.",
        "A {kind} should always be at least ten pages long and written entirely in capital letters.",
    ],
    "follow": [
        "Make it shorter, around {n} words.",
        "Can you make it more {tone2}?",
        "Add a sentence about the {w1} please.",
        "Love it. Can you give me two alternative opening lines?",
        "It's a bit too formal, loosen it up and mention {w2}.",
    ],
}

SUPPORT = {
    "product": ["the Pro plan", "my last order", "the mobile app", "my subscription",
                "the smart thermostat", "two-factor login", "the family plan", "my gift card",
                "the desktop client", "my loyalty points", "the wireless earbuds",
                "the annual membership"],
    "problem": ["was charged twice", "won't let me log in", "hasn't arrived yet",
                "keeps crashing on startup", "shows the wrong balance", "was cancelled without notice",
                "arrived damaged", "doesn't sync with my laptop", "keeps asking for a password reset",
                "shows an error {n}", "was billed in the wrong currency", "lost all my {w1} settings"],
    "ask": [
        "Hi, {product} {problem}. Order {order}. What can I do?",
        "hello?? {product} {problem} and nobody answers my emails. order {order}",
        "Good morning, I need help: {product} {problem} (reference {order}).",
        "My {product} {problem}. I've tried restarting twice. Ticket {order}.",
        "Can someone look at order {order}? {product} {problem} since {weekday}.",
    ],
    "intro": [
        "I'm sorry that {product} {problem}. I've opened a case for {order}.",
        "Thanks for reaching out about {order}; let's fix this.",
        "I understand how frustrating it is when {product} {problem}.",
        "Thank you for the details on {order}. Here is what I can do:",
    ],
    "item": [
        "I've checked {order} and can see the issue on our side.",
        "A refund for the duplicate charge will reach your account within {n} business days.",
        "Please sign out, clear the app cache and sign in again; this resets the {w1} token.",
        "I've escalated {order} to our {w1} team with priority {n}.",
        "You'll receive a confirmation email within the hour with the case number.",
        "If the problem persists after {weekday}, reply to this message and I'll call you.",
        "I've added a {n}% credit to your account for the inconvenience.",
        "Our carrier shows the parcel at the regional depot; a new delivery attempt is planned.",
        "Updating the app to the latest version fixes the {w2} crash for most customers.",
        "I've reset two-factor authentication; you can set it up again from Settings.",
    ],
    "outro": [
        "Is there anything else I can help you with today?",
        "Thanks for your patience, and sorry again for the trouble.",
        "Reply here any time and we'll pick it up from {order}.",
        "Have a good {weekday}!",
    ],
    "wrong": [
        "There is no record of {order} and {product} has never had that problem, so it must be your device.",
        "Orders like {order} cannot be refunded under any circumstances.",
    ],
    "follow": [
        "Thanks. How long will the refund for {order} take?",
        "It still {problem}. Can I speak to a person?",
        "Ok, and can you send the confirmation to a different address?",
        "I did that and now it shows error {n}.",
    ],
}

TRAVEL = {
    "dest": ["Lisbon", "Kyoto", "Mexico City", "Reykjavik", "Cape Town", "Vancouver", "Hanoi",
             "Marrakech", "Prague", "Buenos Aires", "Istanbul", "Seoul", "Edinburgh", "Oaxaca",
             "Tbilisi", "Porto", "Singapore", "Copenhagen", "Nairobi", "Montreal"],
    "duration": ["a weekend", "3 days", "4 days", "a week", "10 days", "two weeks"],
    "interest": ["food", "hiking", "museums", "nightlife", "a tight budget", "kids",
                 "architecture", "photography", "coffee", "markets", "live music"],
    "month": ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"],
    "ask": [
        "Plan {duration} in {dest} focused on {interest}. We go in {month}.",
        "what should I not miss in {dest} with {duration} and a thing for {interest}?",
        "Is {month} a good time to visit {dest}? We like {interest} and have {duration}.",
        "Give me a {duration} itinerary for {dest}, travelling with {interest} in mind, budget {n} euros.",
        "Best neighbourhood to stay in {dest} for {interest}? Arriving {weekday} in {month}.",
    ],
    "intro": [
        "{dest} in {month} is a great choice for {interest}. Here is a plan for {duration}:",
        "Here's a relaxed {duration} in {dest} built around {interest}:",
        "Good pick. For {interest} in {dest}, I'd structure {duration} like this:",
    ],
    "item": [
        "Day 1: walk the old town in the morning and book a {interest} tour for the afternoon.",
        "Day 2: take the early train out of {dest} for a day trip; pack a {w1} and water.",
        "Stay near the centre: you can walk to most sights and save about {n} euros on transport.",
        "Book museums online the day before; queues in {month} can reach an hour.",
        "Eat where locals queue at lunch; set menus often cost under {n} euros.",
        "Keep one evening free for the riverside; sunset is the best light for photos.",
        "Buy a transit card on arrival; it covers buses, trams and the airport line.",
        "Reserve the most popular {interest} spot at least {n} days in advance.",
        "Pack layers: {month} mornings can be cool even when afternoons are warm.",
        "On the last day, visit the covered market and pick up {w1} to take home.",
    ],
    "outro": [
        "Have a wonderful trip to {dest}!",
        "Want restaurant suggestions or a rainy-day plan?",
        "I can adapt this if you tell me your hotel area.",
    ],
    "wrong": [
        "{dest} is closed to tourists in {month}, so you'll need to pick another city.",
        "You can see all of {dest} in two hours; there's nothing for {interest} there.",
    ],
    "follow": [
        "What about a rainy day in {dest}?",
        "Can you suggest a cheaper option for day {n2}?",
        "Is it safe to walk around at night there?",
        "How do we get from the airport to the centre?",
    ],
}

HEALTH = {
    "symptom": ["a sore throat", "lower back pain", "trouble sleeping", "a migraine",
                "seasonal allergies", "a sprained ankle", "heartburn after meals", "a dry cough",
                "stiff shoulders from desk work", "itchy eyes", "a mild fever", "sore knees when running",
                "low energy in the afternoon", "a stuffy nose"],
    "since": ["two days", "a week", "since {weekday}", "about a month", "three nights", "on and off for a year"],
    "ask": [
        "I've had {symptom} for {since}. What can I do at home?",
        "is it normal to have {symptom} for {since}? I'm {age}.",
        "Any tips for {symptom}? It's been {since} and I work long {w1} shifts.",
        "My partner has {symptom} since {weekday}, should we see a doctor? They are {age}.",
        "What helps with {symptom}? I already tried {w2} tea and rest for {since}.",
    ],
    "intro": [
        "I'm not a doctor, but here is general advice for {symptom}:",
        "Sorry to hear about {symptom}. A few things usually help:",
        "For {symptom} lasting {since}, start with the basics:",
    ],
    "item": [
        "Rest and drink plenty of water through the day.",
        "Over-the-counter pain relief can help; follow the dose on the label.",
        "A warm compress for 15 minutes, {n} times a day, often eases the pain.",
        "Keep a simple diary of when it gets worse; it helps a clinician later.",
        "Avoid screens for an hour before bed and keep the room cool and dark.",
        "Gentle stretching in the morning loosens stiff muscles.",
        "Saline rinses or steam can relieve congestion.",
        "Cut back on caffeine after noon.",
        "See a doctor promptly if it gets worse, you have a high fever, or it lasts beyond {n} days.",
        "If you have trouble breathing or chest pain, seek urgent care immediately.",
    ],
    "outro": [
        "If it doesn't improve, please book an appointment with your GP.",
        "I hope you feel better soon.",
        "A pharmacist can also advise you today without an appointment.",
    ],
    "wrong": [
        "{symptom} is always caused by a vitamin deficiency; take ten times the normal dose and it will pass.",
        "You should never see a doctor for {symptom}; antibiotics from a friend will fix it.",
    ],
    "follow": [
        "Thanks. Is ibuprofen ok if I also take {w1} supplements?",
        "It got a bit worse today. When should I worry?",
        "Would a {w2} pillow help?",
        "How long until it usually goes away?",
    ],
}

TRIVIA_FACTS = [
    ("What is the capital of Australia?", "Canberra", "Sydney"),
    ("What is the capital of Canada?", "Ottawa", "Toronto"),
    ("Which planet has the most moons?", "Saturn", "Mars"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci", "Vincent van Gogh"),
    ("What is the chemical symbol for gold?", "Au", "Ag"),
    ("How many bones are in the adult human body?", "206", "312"),
    ("What is the longest river in South America?", "the Amazon", "the Danube"),
    ("In what year did the Berlin Wall fall?", "1989", "1975"),
    ("What is the smallest prime number?", "2", "1"),
    ("Which ocean is the largest?", "the Pacific", "the Atlantic"),
    ("What gas do plants absorb from the air?", "carbon dioxide", "helium"),
    ("What is the hardest natural substance?", "diamond", "granite"),
    ("Which language has the most native speakers?", "Mandarin Chinese", "French"),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees", "80 degrees"),
    ("Who wrote Pride and Prejudice?", "Jane Austen", "Charles Dickens"),
    ("What is the currency of Japan?", "the yen", "the won"),
    ("How many continents are there?", "seven", "five"),
    ("What is the tallest mountain on Earth?", "Mount Everest", "Mont Blanc"),
    ("Which element has atomic number 1?", "hydrogen", "oxygen"),
    ("What is the capital of Brazil?", "Brasilia", "Rio de Janeiro"),
    ("Which country hosted the 2016 Summer Olympics?", "Brazil", "China"),
    ("What is the speed of light in km per second, roughly?", "about 300,000", "about 3,000"),
    ("What is the largest desert in the world?", "Antarctica", "the Sahara"),
    ("Who developed the theory of general relativity?", "Albert Einstein", "Isaac Newton"),
    ("What is the capital of Turkey?", "Ankara", "Istanbul"),
    ("How many sides does a hexagon have?", "six", "eight"),
    ("What is the main language of Brazil?", "Portuguese", "Spanish"),
    ("Which organ produces insulin?", "the pancreas", "the liver"),
]

TRIVIA = {
    "context": ["Quick one for pub quiz night:", "My kid asked me this and I blanked:",
                "Settling a bet with my {w1} group:", "For a school worksheet:",
                "Random question:", "Trivia night on {weekday}, help:", "Sanity check please:",
                "We argued about this at dinner:"],
    "ask": ["{context} {q1} And also, {q2_lower}", "{context} {q1}", "{q1} Also {q2_lower} Thanks!"],
    "intro": ["Short answer: {a1}.", "The answer is {a1}.", "{a1}."],
    "item": [
        "A common mix-up is {w1} trivia, but the reference answer is well documented.",
        "For your second question: {a2}.",
        "You'll find it in any encyclopedia under the {w2} entry.",
        "Fun fact: this comes up in about {n} percent of quiz nights.",
        "If the quiz asks for a number, write it out in full to be safe.",
    ],
    "outro": ["Good luck tonight!", "Hope that settles the bet.", "Anything else to check?"],
    "wrong": ["It's {wrong1}, everyone knows that.", "The answer is {wrong1}. Also {wrong2}."],
    "follow": ["Are you sure? My friend says {wrong1}.", "Why is that?", "And what about {w1}?"],
}

TOPIC_TABLES = {"coding": CODING, "writing": WRITING, "support": SUPPORT, "travel": TRAVEL,
                "health": HEALTH, "trivia": TRIVIA}
TOPIC_WEIGHTS = (0.24, 0.18, 0.2, 0.14, 0.12, 0.12)
TOPIC_CUM = tuple(sum(TOPIC_WEIGHTS[: i + 1]) for i in range(len(TOPIC_WEIGHTS)))
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

TERSE = (
    "It depends on your setup, just try it.",
    "You could probably look that up online somewhere.",
    "Not sure, maybe check the docs for that.",
    "That should work fine, no changes needed really.",
    "Try again later and see if it works.",
)
RUDE = (
    "That is a really basic question; figure it out yourself instead of wasting my time.",
    "Honestly, did you even try before asking? This is embarrassing.",
    "I'm not going to spell this out for you again, read the manual.",
    "What a pointless thing to ask. Next question.",
)
MEDIUM = (
    "There are a few ways to approach this, and the best one depends on your situation.",
    "Generally speaking, most people start with the simplest option and adjust from there.",
    "It is usually a good idea to check the official documentation for the details.",
    "Many users have similar questions, so you are not alone here.",
    "You may want to try a couple of options and see what fits.",
)

# PII frames, user voice and assistant voice; {v} is the planted value.
USER_PII = {
    "PERSON": ("My name is {v}.", "I'm {v}, by the way.", "this is {v} again.", "Sign it from {v}."),
    "EMAIL_ADDRESS": ("My email is {v}.", "you can email me at {v}", "send it to {v} please."),
    "PHONE_NUMBER": ("Call me at {v}.", "my number is {v}", "Phone: {v}"),
    "STREET_ADDRESS": ("I live at {v}.", "ship it to {v}", "My address is {v}."),
    "CREDIT_CARD": ("my card number is {v}", "I paid with the card {v}."),
    "IBAN_CODE": ("my IBAN is {v}", "Please refund to IBAN {v}."),
    "IP_ADDRESS": ("my IP is {v}", "the server at {v} refuses connections."),
    "US_SSN": ("my SSN is {v}", "Social security number: {v}"),
}
ECHO_PII = {
    "PERSON": "Thanks, {v}.",
    "EMAIL_ADDRESS": "I'll send the details to {v}.",
    "PHONE_NUMBER": "We can call you back at {v}.",
    "STREET_ADDRESS": "I've noted the address {v}.",
    "CREDIT_CARD": "The card ending in that number ({v}) was charged.",
    "IBAN_CODE": "The refund goes to {v}.",
    "IP_ADDRESS": "Requests from {v} are allowed now.",
    "US_SSN": "Please don't share numbers like {v} in chat.",
}
PII_WEIGHTS = {"PERSON": 5, "EMAIL_ADDRESS": 4, "PHONE_NUMBER": 4, "STREET_ADDRESS": 3,
               "CREDIT_CARD": 2, "IBAN_CODE": 1.5, "IP_ADDRESS": 1.5, "US_SSN": 1}
_PII_TYPES = tuple(PII_WEIGHTS)
_PII_CUM = tuple(sum(tuple(PII_WEIGHTS.values())[: i + 1]) for i in range(len(PII_WEIGHTS)))
# Real area codes, so phone numbers look like ones people type.
AREA_CODES = (212, 213, 303, 305, 312, 404, 415, 469, 503, 512, 602, 617, 646, 702, 713, 718,
              720, 773, 786, 804, 818, 858, 917, 971)

COMMENTS_GOOD = ("Great, thanks!", "exactly what I needed", "Clear and helpful.",
                 "This saved me an hour.", "perfect, thank you")
COMMENTS_BAD = ("This is wrong.", "didn't answer my question", "way too short",
                "rude answer, not ok", "It cut off in the middle.", "Not helpful at all.")
COMMENT_PII = ("If you need more info call me at {v}.", "my email is {v} if support wants to follow up.",
               "{v} here, still waiting.")
COMMENT_PII_TYPES = ("PHONE_NUMBER", "EMAIL_ADDRESS", "PERSON")
FLAG_BY_STYLE = {"rude": "offensive", "wrong": "wrong", "off_topic": "other"}

# --------------------------------------------------------------------------------------------
# Small helpers


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def _uuid(*parts: Any) -> str:
    # Same value as uuid.UUID(bytes=digest[:16], version=4), without the object (hot path).
    h = _digest(*parts)[:16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def _user_id(seed: int, index: int) -> str:
    return "user_" + _digest(seed, "user", index).hex()[:12]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    digits = [int(ch) for ch in number if ch.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def _iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def iban_ok(iban: str) -> bool:
    compact = iban.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _fmt_ts(date: str, ms: int, offset_hours: int = 0) -> str:
    """RFC 3339; with an offset the local clock is shown but the instant is the same."""
    if offset_hours == 0:
        s, milli = divmod(ms, 1000)
        h, rem = divmod(s, 3600)
        return f"{date}T{h:02d}:{rem // 60:02d}:{rem % 60:02d}.{milli:03d}Z"
    local = datetime.fromisoformat(date) + timedelta(milliseconds=ms + offset_hours * 3_600_000)
    sign = "+" if offset_hours > 0 else "-"
    return f"{local.isoformat(timespec='milliseconds')}{sign}{abs(offset_hours):02d}:00"


def _line(record: Any) -> bytes:
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    # Characters that str.splitlines() treats as line breaks must not appear raw in a line.
    for ch in ("\u2028", "\u2029", "\x85"):
        if ch in text:
            text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text.encode("utf-8")


# --------------------------------------------------------------------------------------------
# PII pools, built once per seed (Faker is slow per call, fast as a pool).


@dataclass(frozen=True)
class _Pools:
    first: tuple[str, ...]
    last: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    free_domains: tuple[str, ...]
    company_domains: tuple[str, ...]
    words: tuple[str, ...]


@lru_cache(maxsize=4)
def _pools(seed: int) -> _Pools:
    from faker import Faker
    from faker.providers.lorem.en_US import Provider as Lorem

    fake = Faker("en_US")
    fake.seed_instance(seed)
    words = tuple(w for w in Lorem.word_list if len(w) >= 4) + tuple(WORDS_EXTRA)
    return _Pools(
        first=tuple(fake.first_name() for _ in range(400)),
        last=tuple(fake.last_name() for _ in range(400)),
        streets=tuple(fake.street_address() for _ in range(300)),
        cities=tuple(f"{fake.city()}, {fake.state_abbr()} {fake.zipcode()}" for _ in range(300)),
        free_domains=("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "proton.me",
                      "icloud.com"),
        company_domains=tuple(fake.domain_name() for _ in range(60)),
        words=words,
    )


class _PII:
    """Draws fake but valid-looking PII values of each type."""

    def __init__(self, pools: _Pools, rng: random.Random):
        self.p, self.rng = pools, rng

    def person(self) -> str:
        r, p = self.rng, self.p
        name = f"{r.choice(p.first)} {r.choice(p.last)}"
        roll = r.random()
        if roll < 0.25:
            return name.lower()  # people type names in lower case
        if roll < 0.35:
            return r.choice(p.first)
        return name

    def email(self) -> str:
        r, p = self.rng, self.p
        first, last = r.choice(p.first).lower(), r.choice(p.last).lower()
        local = r.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{r.randint(1, 99)}",
                          f"{first}_{last}{r.randint(70, 99)}"))
        domain = r.choice(p.free_domains) if r.random() < 0.7 else r.choice(p.company_domains)
        return f"{local}@{domain}".replace("'", "")

    def phone(self) -> str:
        r = self.rng
        a, b, n = r.choice(AREA_CODES), r.randint(201, 989), r.randint(0, 9999)
        return r.choice((f"({a}) {b}-{n:04d}", f"{a}-{b}-{n:04d}", f"{a}.{b}.{n:04d}",
                         f"+1 {a} {b} {n:04d}", f"+1-{a}-{b}-{n:04d}", f"{a}{b}{n:04d}"))

    def address(self) -> str:
        return f"{self.rng.choice(self.p.streets)}, {self.rng.choice(self.p.cities)}"

    def credit_card(self) -> str:
        r = self.rng
        prefix, length = r.choice((("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15),
                                   ("37", 15), ("6011", 16)))
        body = prefix + "".join(str(r.randint(0, 9)) for _ in range(length - len(prefix) - 1))
        number = body + _luhn_digit(body)
        style = r.random()
        if style < 0.4:
            return number
        sep = " " if style < 0.8 else "-"
        groups = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
        out, i = [], 0
        for g in groups:
            out.append(number[i:i + g])
            i += g
        return sep.join(out)

    def iban(self) -> str:
        r = self.rng
        digits = lambda k: "".join(str(r.randint(0, 9)) for _ in range(k))  # noqa: E731
        letters = lambda k: "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(k))  # noqa: E731
        country, bban = r.choice((("DE", digits(18)), ("GB", letters(4) + digits(14)),
                                  ("FR", digits(23)), ("NL", letters(4) + digits(10)),
                                  ("ES", digits(20))))
        compact = country + _iban_check(country, bban) + bban
        if r.random() < 0.5:
            return compact
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))

    def ip(self) -> str:
        r = self.rng
        return f"{r.choice((23, 45, 66, 81, 98, 104, 142, 176, 185, 203))}.{r.randint(0, 255)}." \
               f"{r.randint(0, 255)}.{r.randint(1, 254)}"

    def ssn(self) -> str:
        r = self.rng
        area = r.choice([a for a in range(101, 899) if a != 666][::7])
        return f"{area:03d}-{r.randint(10, 99):02d}-{r.randint(1000, 9999):04d}"

    def value(self, entity_type: str) -> str:
        return {"PERSON": self.person, "EMAIL_ADDRESS": self.email, "PHONE_NUMBER": self.phone,
                "STREET_ADDRESS": self.address, "CREDIT_CARD": self.credit_card,
                "IBAN_CODE": self.iban, "IP_ADDRESS": self.ip, "US_SSN": self.ssn}[entity_type]()

    def entity_type(self) -> str:
        return self.rng.choices(_PII_TYPES, cum_weights=_PII_CUM)[0]


# --------------------------------------------------------------------------------------------
# Text with its planted PII: (text, ((entity_type, value), ...))

Text = tuple[str, tuple[tuple[str, str], ...]]


def _fill(frame: str, slots: dict[str, str]) -> str:
    return frame.format_map(slots)


def _slots(topic: str, rng: random.Random, pools: _Pools) -> dict[str, str]:
    t = TOPIC_TABLES[topic]
    w = pools.words
    s = {"w1": rng.choice(w), "w2": rng.choice(w), "n": str(rng.randint(2, 500)),
         "n2": str(rng.randint(1, 5)), "weekday": rng.choice(WEEKDAYS),
         "age": str(rng.randint(19, 84)), "follow_start": rng.randrange(100)}
    if topic == "coding":
        s.update(lang=rng.choice(t["lang"]), lang2=rng.choice(t["lang"]), task=rng.choice(t["task"]),
                 error=rng.choice(t["error"]))
    elif topic == "writing":
        s.update(kind=rng.choice(t["kind"]), tone=rng.choice(t["tone"]), tone2=rng.choice(t["tone"]))
        s["subject"] = _fill(rng.choice(t["subject"]), s)
    elif topic == "support":
        s.update(product=rng.choice(t["product"]), order=f"FW-{rng.randint(100000, 999999)}")
        s["problem"] = _fill(rng.choice(t["problem"]), s)
    elif topic == "travel":
        s.update(dest=rng.choice(t["dest"]), duration=rng.choice(t["duration"]),
                 interest=rng.choice(t["interest"]), month=rng.choice(t["month"]))
    elif topic == "health":
        s.update(symptom=rng.choice(t["symptom"]))
        s["since"] = _fill(rng.choice(t["since"]), s)
    elif topic == "trivia":
        (q1, a1, x1), (q2, a2, x2) = rng.sample(TRIVIA_FACTS, 2)
        s.update(q1=q1, a1=a1, wrong1=x1, q2_lower=q2[0].lower() + q2[1:], a2=a2, wrong2=x2)
        s["context"] = _fill(rng.choice(t["context"]), s)
    return s


def _with_pii(text: str, rng: random.Random, pii: _PII, k: int) -> Text:
    found = []
    for _ in range(k):
        etype = pii.entity_type()
        value = pii.value(etype)
        phrase = rng.choice(USER_PII[etype]).format(v=value)
        text = f"{phrase} {text}" if rng.random() < 0.4 else f"{text} {phrase}"
        found.append((etype, value))
    return text, tuple(found)


def _prompt(topic: str, slots: dict, rng: random.Random, pii: _PII, cfg: SimulateConfig,
            turn: int) -> Text:
    t = TOPIC_TABLES[topic]
    if turn == 1:
        text = _fill(rng.choice(t["ask"]), slots)
    else:  # follow-ups walk the list from a per-conversation start, so none repeats
        follow = t["follow"]
        text = _fill(follow[(slots["follow_start"] + turn - 2) % len(follow)], slots)
    rate = cfg.support_pii_rate if topic == "support" else cfg.prompt_pii_rate
    k = 0
    if rng.random() < rate:
        k = 2 if rng.random() < 0.3 else 1
    return _with_pii(text, rng, pii, k)


def _good_answer(topic: str, slots: dict, rng: random.Random) -> str:
    t = TOPIC_TABLES[topic]
    items = rng.sample(t["item"], min(len(t["item"]), rng.randint(3, 5)))
    bullet = rng.choice(("- ", "* ", "1. "))
    lines = [_fill(rng.choice(t["intro"]), slots), ""]
    for i, item in enumerate(items):
        mark = f"{i + 1}. " if bullet == "1. " else bullet
        lines.append(mark + _fill(item, slots))
    if topic == "coding":
        fn = f"{slots['w1']}_{slots['task'].split()[0]}"
        lines += ["", "```", f"def {fn}({slots['w2']}):",
                  f"    if not {slots['w2']}:", "        return []",
                  f"    return sorted(set({slots['w2']}))", "```"]
    lines += ["", _fill(rng.choice(t["outro"]), slots)]
    return "\n".join(lines)


def _response(topic: str, style: str, slots: dict, rng: random.Random) -> str:
    t = TOPIC_TABLES[topic]
    if style == "good":
        return _good_answer(topic, slots, rng)
    if style == "medium":
        first = _fill(rng.choice(t["intro"]), slots)
        return " ".join([first] + rng.sample(MEDIUM, 2))
    if style == "terse":
        return rng.choice(TERSE)
    if style == "rude":
        return rng.choice(RUDE)
    if style == "wrong":
        return _fill(rng.choice(t["wrong"]), slots)
    if style == "off_topic":
        other = rng.choice([x for x in TOPICS if x != topic])
        return _good_answer(other, _slots_for_other(other, rng, slots), rng)
    if style == "truncated":
        full = _good_answer(topic, slots, rng)
        return full[: max(20, int(len(full) * rng.uniform(0.25, 0.6)))]
    raise ValueError(f"unknown style {style!r}")


def _slots_for_other(topic: str, rng: random.Random, base: dict) -> dict:
    # Off-topic answers reuse the filler words, so they read like a confused model.
    words = (base["w1"], base["w2"], *WORDS_EXTRA)
    return _slots(topic, rng, _Pools((), (), (), (), (), (), words))


def _style(quality: float, rng: random.Random) -> str:
    if quality >= 0.7:
        return "good"
    if quality >= 0.45:
        return "medium"
    if quality < 0.12:
        return "rude"
    return rng.choice(("terse", "wrong", "off_topic", "truncated"))


def _junk(kind: str, rng: random.Random, pools: _Pools, cfg: SimulateConfig) -> str:
    if kind == "empty":
        return ""
    if kind == "gibberish":
        return " ".join("".join(rng.choice("bcdfghjklmnpqrstvwxzqxj") for _ in range(rng.randint(3, 9)))
                        for _ in range(rng.randint(20, 60)))
    if kind == "repeated":
        unit = rng.choice(("a", "ha", "!", "lol ", "I am sorry. ", "\u2588"))
        return unit * rng.randint(200, 600)
    if kind == "long":
        parts, size = [], 0
        while size <= cfg.long_chars:
            topic = rng.choice(TOPICS)
            part = _good_answer(topic, _slots(topic, rng, pools), rng)
            parts.append(part)
            size += len(part) + 2
        return "\n\n".join(parts)
    raise ValueError(f"unknown junk kind {kind!r}")


def _copy_edit(text: str, rng: random.Random) -> str:
    """A small human edit that never touches the middle of the text (PII stays verbatim)."""
    ops = []
    if text.endswith("?"):
        ops.append(lambda s: s[:-1])
        ops.append(lambda s: s + "?")
    else:
        ops.append(lambda s: s + "?")
    if text.endswith("."):
        ops.append(lambda s: s[:-1] + "!")
    ops += [lambda s: s + " thanks", lambda s: s + " please", lambda s: "Hi, " + s,
            lambda s: "hey " + s, lambda s: s + " :)"]
    return rng.choice(ops)(text)


# --------------------------------------------------------------------------------------------
# Phase A: structure (independent of model versions)


@dataclass
class _Interaction:
    event_id: str
    user: int
    conversation_id: str
    turn: int
    ts: int  # ms since midnight UTC
    topic: str
    slots: dict
    prompts: list  # list[Text]: user prompts of the conversation up to this turn
    system: str | None
    u: float  # latent, uniform
    conv_index: int  # conversation number of the day, for version assignment
    kind: str = "clean"  # clean | junk | template | copy_edit | popular | cross_day | ab
    junk_kind: str | None = None
    duplicate_of: str | None = None
    prior: list = field(default_factory=list)  # earlier _Interaction of the same conversation
    popular: int | None = None
    ab_other: str | None = None
    parts_content: bool = False
    offset_hours: int = 0
    extras: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)  # value -> (text, pii)
    # Phase B fills these
    model_version: str | None = None
    quality: float = 0.0
    style: str = ""
    response: Text = ("", ())
    latency_ms: float = 0.0
    copy_of: _Interaction | None = None
    repost_record: dict | None = None


@dataclass
class _Day:
    date: str
    seed: int
    users: int
    model_versions: tuple[str, ...]
    interactions: list[_Interaction]
    by_id: dict[str, _Interaction]
    consent: dict[int, bool | None]
    deleting: list[int]


def _consent_by_user(seed: int, users: int, cfg: SimulateConfig) -> dict[int, bool | None]:
    rng = random.Random(f"{seed}|consent")
    order = list(range(users))
    rng.shuffle(order)
    n_out = max(1, round(users * cfg.opt_out_share)) if users >= 3 else 0
    n_none = max(1, round(users * cfg.no_consent_share)) if users >= 3 else 0
    consent: dict[int, bool | None] = {u: True for u in range(users)}
    for u in order[:n_out]:
        consent[u] = False
    for u in order[n_out:n_out + n_none]:
        consent[u] = None
    return consent


@lru_cache(maxsize=4)
def _popular_pool(seed: int, size: int) -> tuple:
    """Popular questions and their canonical answers: fixed by the seed, not the date."""
    rng = random.Random(f"{seed}|popular")
    pools = _pools(seed)
    out = []
    for _ in range(size):
        topic = rng.choice(("coding", "travel", "health", "trivia", "writing"))
        slots = _slots(topic, rng, pools)
        prompt = _fill(rng.choice(TOPIC_TABLES[topic]["ask"]), slots)
        quality = round(rng.uniform(0.5, 0.95), 4)
        answer = _response(topic, _style(quality, rng), slots, rng)
        out.append((topic, prompt, answer, quality, rng.choice(SYSTEM_PROMPTS)))
    return tuple(out)


def _structure(date: str, seed: int, users: int, cfg: SimulateConfig) -> _Day:
    rng = random.Random(f"{seed}|{date}|structure")
    pools = _pools(seed)
    pii = _PII(pools, rng)
    counter = 0

    def new_id(ns: str) -> str:
        nonlocal counter
        counter += 1
        return _uuid(seed, date, ns, counter)

    interactions: list[_Interaction] = []
    conv_index = 0

    def metadata(rec: _Interaction) -> None:
        rec.metadata["app"] = (rng.choice(("web", "ios", "android")), ())
        rec.metadata["app_version"] = (f"{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}", ())
        roll = rng.random()
        if roll < 0.2:
            value = pii.ip()
            rec.metadata["client_ip"] = (value, (("IP_ADDRESS", value),))
        elif roll < 0.25:
            value = pii.email()
            rec.metadata["account_email"] = (value, (("EMAIL_ADDRESS", value),))
        if rng.random() < 0.1:
            rec.extras["sdk"] = rng.choice(("flywheel-js/1.4.2", "flywheel-py/0.9.0", "ios/2.1"))
        if rng.random() < 0.03:
            rec.offset_hours = rng.choice((-5, -3, 1, 2, 9))

    for user in range(users):
        for _ in range(rng.randint(*cfg.conversations_per_user)):
            topic = rng.choices(TOPICS, cum_weights=TOPIC_CUM)[0]
            slots = _slots(topic, rng, pools)
            turns = rng.choices(range(1, len(cfg.turn_weights) + 1), weights=cfg.turn_weights)[0]
            system = rng.choice(SYSTEM_PROMPTS) if rng.random() < cfg.system_message_rate else None
            conv_id = _uuid(seed, date, "conversation", conv_index)
            ts = rng.randint(0, DAY_MS - 3_600_000)
            prompts: list[Text] = []
            prior: list[_Interaction] = []
            for turn in range(1, turns + 1):
                prompts.append(_prompt(topic, slots, rng, pii, cfg, turn))
                rec = _Interaction(new_id("interaction"), user, conv_id, turn, ts, topic, slots,
                                   list(prompts), system, rng.random(), conv_index,
                                   prior=list(prior), parts_content=rng.random() < 0.05)
                metadata(rec)
                interactions.append(rec)
                prior.append(rec)
                ts += rng.randint(15_000, 300_000)
            conv_index += 1
        if rng.random() < cfg.ab_rate:
            topic = rng.choices(TOPICS, cum_weights=TOPIC_CUM)[0]
            slots = _slots(topic, rng, pools)
            prompt = _prompt(topic, slots, rng, pii, cfg, 1)
            conv_id = _uuid(seed, date, "conversation", conv_index)
            ts = rng.randint(0, DAY_MS - 3_600_000)
            system = rng.choice(SYSTEM_PROMPTS) if rng.random() < cfg.system_message_rate else None
            arms = []
            for _arm in range(2):
                rec = _Interaction(new_id("interaction"), user, conv_id, 1, ts + rng.randint(0, 50),
                                   topic, slots, [prompt], system, rng.random(), conv_index,
                                   kind="ab")
                metadata(rec)
                arms.append(rec)
            arms[0].ab_other, arms[1].ab_other = arms[1].event_id, arms[0].event_id
            interactions.extend(arms)
            conv_index += 1

    n_clean = len(interactions)
    originals = [r for r in interactions if r.kind == "clean"]

    def single(user: int, topic: str, slots: dict, prompt: Text, system: str | None, ts: int,
               kind: str) -> _Interaction:
        nonlocal conv_index
        rec = _Interaction(new_id("interaction"), user, _uuid(seed, date, "conversation", conv_index),
                           1, ts, topic, slots, [prompt], system, rng.random(), conv_index, kind=kind)
        conv_index += 1
        metadata(rec)
        interactions.append(rec)
        return rec

    def count(rate: float) -> int:
        return max(1, round(rate * n_clean))

    # Junk: standalone conversations so that no later turn carries the junk in its history.
    for i in range(max(4, count(cfg.junk_rate))):
        topic = rng.choices(TOPICS, cum_weights=TOPIC_CUM)[0]
        slots = _slots(topic, rng, pools)
        rec = single(rng.randrange(users), topic, slots,
                     _prompt(topic, slots, rng, pii, cfg, 1), None,
                     rng.randint(0, DAY_MS - 1), "junk")
        rec.junk_kind = ("empty", "gibberish", "repeated", "long")[i % 4]
    # Template: the same support form re-sent with another order number.
    # Originals are first turns with a high latent: every model version answers them well, so the
    # copy is a near-duplicate of a long answer, not of a one-liner.
    support = [r for r in originals if r.topic == "support" and r.turn == 1 and r.u >= 0.65]
    strong = [r for r in originals if r.u >= 0.65] or originals
    for _ in range(count(cfg.template_rate) if support else 0):
        orig = rng.choice(support)
        slots = dict(orig.slots, order=f"FW-{rng.randint(100000, 999999)}")
        text, found = orig.prompts[-1]
        prompt = (text.replace(orig.slots["order"], slots["order"]), found)
        rec = single(orig.user, orig.topic, slots, prompt, orig.system,
                     rng.randint(orig.ts, DAY_MS - 1), "template")
        rec.duplicate_of, rec.copy_of = orig.event_id, orig
    # Copy-paste with a small edit, by another user.
    for _ in range(count(cfg.copy_edit_rate)):
        orig = rng.choice(strong)
        text, found = orig.prompts[-1]
        rec = single(rng.randrange(users), orig.topic, orig.slots, (_copy_edit(text, rng), found),
                     orig.system, rng.randint(orig.ts, DAY_MS - 1), "copy_edit")
        rec.duplicate_of, rec.copy_of = orig.event_id, orig
    # Popular questions: Zipf-like over the pool; the first asking of the day is the original.
    pool = _popular_pool(seed, cfg.popular_pool_size)
    asks = sorted((rng.randint(0, DAY_MS - 1), min(int(rng.paretovariate(1.2)) - 1, len(pool) - 1))
                  for _ in range(max(2, count(cfg.popular_rate))))
    for ts, q in asks:
        topic, prompt, _answer, _quality, system = pool[q]
        rec = single(rng.randrange(users), topic, {}, (prompt, ()), system, ts, "popular")
        rec.popular = q
    consent = _consent_by_user(seed, users, cfg)
    deleting = sorted(rng.sample(range(users), min(users, max(1, round(users * cfg.deletion_rate)))))
    return _Day(date, seed, users, (), interactions, {r.event_id: r for r in interactions}, consent,
                deleting)


# --------------------------------------------------------------------------------------------
# Phase B: model versions, quality and responses


def mean_quality(index: int, cfg: SimulateConfig = DEFAULT_CONFIG) -> float:
    return min(cfg.base_mean_quality + index * cfg.quality_step, cfg.max_mean_quality)


def _answer(day: _Day, model_versions: tuple[str, ...], cfg: SimulateConfig) -> None:
    rng_v = random.Random(f"{day.seed}|{day.date}|versions")
    rng = random.Random(f"{day.seed}|{day.date}|responses")
    pii = _PII(_pools(day.seed), rng)
    pool = _popular_pool(day.seed, cfg.popular_pool_size)
    day.model_versions = model_versions
    version_of_conv: dict[int, int] = {}
    for rec in day.interactions:
        if rec.conv_index not in version_of_conv:
            version_of_conv[rec.conv_index] = rng_v.randrange(len(model_versions))
        index = version_of_conv[rec.conv_index]
        if rec.kind == "ab" and rec.ab_other and len(model_versions) > 1:
            other = day.by_id[rec.ab_other]
            if other.model_version is not None:  # second arm: the other model
                index = (model_versions.index(other.model_version) + 1 + rng_v.randrange(
                    len(model_versions) - 1)) % len(model_versions)
        rec.model_version = model_versions[index]
        rec.quality = round(rec.u ** (1 / mean_quality(index, cfg) - 1), 4)
        if rec.kind == "junk":
            rec.quality, rec.style = 0.0, "junk"
            rec.response = (_junk(rec.junk_kind, rng, day_pools(day), cfg), ())
        elif rec.kind == "popular":
            _t, _p, answer, quality, _s = pool[rec.popular]
            rec.quality, rec.style, rec.response = quality, "popular", (answer, ())
        elif rec.copy_of is not None:
            orig = rec.copy_of
            rec.model_version, rec.quality, rec.style = orig.model_version, orig.quality, orig.style
            text, found = orig.response
            if rec.kind == "template":
                text = text.replace(orig.slots["order"], rec.slots["order"])
            rec.response = (text, found)
        else:
            rec.style = _style(rec.quality, rng)
            text = _response(rec.topic, rec.style, rec.slots, rng)
            if rec.kind == "ab" and day.by_id[rec.ab_other].style:
                # The two arms share the prompt; their answers must differ, or they would be
                # near-duplicates that the truth does not list.
                first = day.by_id[rec.ab_other].response[0]
                for _ in range(20):
                    if _resemblance(text, first) < 0.5:
                        break
                    text = _response(rec.topic, rec.style, rec.slots, rng)
            found: tuple = ()
            prompt_pii = rec.prompts[-1][1]
            if prompt_pii and rec.style in ("good", "medium") and rng.random() < cfg.response_echo_rate:
                etype, value = rng.choice(prompt_pii)
                text = ECHO_PII[etype].format(v=value) + " " + text
                found = ((etype, value),)
            elif rec.topic == "writing" and rec.style == "good" and rng.random() < 0.15:
                value = pii.person()
                text = f"{text}\n\nWarm regards,\n{value}"
                found = (("PERSON", value),)
            rec.response = (text, found)
        base = {"good": 2400, "medium": 1400, "popular": 1800}.get(rec.style, 700)
        rec.latency_ms = round(base * rng.uniform(0.5, 2.0) + len(rec.response[0]) * 0.3, 1)


def _resemblance(a: str, b: str, n: int = 5) -> float:
    """Jaccard similarity of character n-gram sets."""
    sa = {a[i:i + n] for i in range(max(1, len(a) - n + 1))}
    sb = {b[i:i + n] for i in range(max(1, len(b) - n + 1))}
    return len(sa & sb) / len(sa | sb)


def day_pools(day: _Day) -> _Pools:
    return _pools(day.seed)


def _interaction_record(rec: _Interaction, consent: bool | None) -> tuple[dict, list]:
    """Contract JSON of one interaction, and its PII as (field, entity_type, value)."""
    messages, found = [], []
    if rec.system is not None:
        messages.append({"role": "system", "content": rec.system})
    for i, prompt in enumerate(rec.prompts):
        text, pii = prompt
        if rec.parts_content and i == len(rec.prompts) - 1:
            messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
        else:
            messages.append({"role": "user", "content": text})
        found += [(f"messages[{len(messages) - 1}].content", e, v) for e, v in pii]
        if i < len(rec.prior):
            answer, apii = rec.prior[i].response
            messages.append({"role": "assistant", "content": answer})
            found += [(f"messages[{len(messages) - 1}].content", e, v) for e, v in apii]
    found += [("response", e, v) for e, v in rec.response[1]]
    record = {
        "event_type": "interaction",
        "event_id": rec.event_id,
        "timestamp": None,
        "user_id": None,
        "conversation_id": rec.conversation_id,
        "turn": rec.turn,
        "model_version": rec.model_version,
        "messages": messages,
        "response": rec.response[0],
        "latency_ms": rec.latency_ms,
    }
    if consent is not None:
        record["consent"] = {"training": consent}
    meta = {}
    for key, (value, pii) in rec.metadata.items():
        meta[key] = value
        found += [(f"metadata.{key}", e, v) for e, v in pii]
    record["metadata"] = meta
    record.update(rec.extras)
    return record, found


def _generate(date: str, seed: int, users: int, model_versions: tuple[str, ...],
              cfg: SimulateConfig) -> _Day:
    day = _structure(date, seed, users, cfg)
    _answer(day, model_versions, cfg)
    return day


# --------------------------------------------------------------------------------------------
# Phase C: the day's events, irregularities, files and truth


def _p_thumbs_up(q: float) -> float:
    return 0.05 + 0.9 * q


RATING_SD = 0.7


def _expected_rating(q: float) -> float:
    """E[clamp(round(1 + 4q + N(0, RATING_SD)), 1, 5)], exactly."""
    mu = 1 + 4 * q

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mu) / (RATING_SD * math.sqrt(2))))

    total = 0.0
    for r in range(1, 6):
        lo = -math.inf if r == 1 else r - 0.5
        hi = math.inf if r == 5 else r + 0.5
        total += r * ((1.0 if hi == math.inf else cdf(hi)) - (0.0 if lo == -math.inf else cdf(lo)))
    return total


def _rating(q: float, rng: random.Random) -> int:
    return max(1, min(5, round(1 + 4 * q + rng.gauss(0, RATING_SD))))


@dataclass
class _Line:
    data: bytes
    ts: int
    event_id: str | None = None
    malformed: str | None = None  # reject reason
    malformed_kind: str | None = None
    redelivered: bool = False


def _previous_params(landing: Path, prev: str, users: int, model_versions: tuple[str, ...],
                     previous_model_versions: tuple[str, ...] | None) -> tuple[int, tuple[str, ...]]:
    if previous_model_versions is not None:
        return users, tuple(previous_model_versions)
    truth = landing / "_truth" / f"dt={prev}.json"
    if truth.exists():
        meta = json.loads(truth.read_text())
        return int(meta["users"]), tuple(meta["model_versions"])
    return users, model_versions


def simulate_day(landing: Path, date: str, users: int, seed: int,
                 model_versions: tuple[str, ...] = ("v1",),
                 previous_model_versions: tuple[str, ...] | None = None,
                 config: SimulateConfig = DEFAULT_CONFIG) -> Path:
    """Write one day of landing files and its ground truth; return the truth's path.

    The previous day is regenerated in memory to refer to its interactions; its model versions
    (and user count) are ``previous_model_versions`` if given, else read from its truth file if
    present, else assumed equal to today's.
    """
    landing = Path(landing)
    # Exactly YYYY-MM-DD: fromisoformat alone also takes 20261102 and 2026-W44-1, and a
    # partition named like that breaks every reader.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise ValueError(f"date {date!r} is not YYYY-MM-DD")
    Date.fromisoformat(date)  # raises ValueError on a day that does not exist
    if users < 1:
        raise ValueError(f"users must be >= 1, got {users}")
    model_versions = tuple(model_versions)
    if not model_versions or len(set(model_versions)) != len(model_versions):
        raise ValueError(f"model_versions must be distinct and non-empty, got {model_versions!r}")
    cfg = config
    prev = (Date.fromisoformat(date) - timedelta(days=1)).isoformat()
    prev_users, prev_versions = _previous_params(landing, prev, users, model_versions,
                                                 previous_model_versions)
    day = _generate(date, seed, users, model_versions, cfg)
    yesterday = _generate(prev, seed, prev_users, prev_versions, cfg)
    lines, truth = _events(day, yesterday, cfg)
    return _write(landing, day, lines, truth, prev_versions, cfg)


def _events(day: _Day, yesterday: _Day, cfg: SimulateConfig) -> tuple[list[_Line], dict]:
    seed, date = day.seed, day.date
    rng = random.Random(f"{seed}|{date}|events")
    pii = _PII(_pools(seed), rng)
    user_ids = [_user_id(seed, u) for u in range(max(day.users, yesterday.users))]
    lines: list[_Line] = []
    truth_pii: list[dict] = []
    interactions_truth: dict[str, dict] = {}
    near_duplicates, junk = [], []
    feedback_truth: dict[str, dict] = {}
    fb_counter = 0

    def ts_str(ms: int, offset: int = 0) -> str:
        return _fmt_ts(date, min(ms, DAY_MS - 1), offset)

    def add_interaction(rec: _Interaction, record: dict, found: list) -> None:
        lines.append(_Line(_line(record), rec.ts, rec.event_id))
        for fld, etype, value in dict.fromkeys(found):
            truth_pii.append({"event_id": rec.event_id, "field": fld, "entity_type": etype,
                              "value": value})

    for rec in day.interactions:
        consent = day.consent[rec.user]
        record, found = _interaction_record(rec, consent)
        record["timestamp"] = ts_str(rec.ts, rec.offset_hours)
        record["user_id"] = user_ids[rec.user]
        add_interaction(rec, record, found)
        interactions_truth[rec.event_id] = {
            "user_id": user_ids[rec.user], "model_version": rec.model_version,
            "quality": rec.quality, "consent": consent, "kind": rec.kind, "style": rec.style,
        }
        if rec.kind == "junk":
            junk.append({"event_id": rec.event_id, "kind": rec.junk_kind})
        elif rec.duplicate_of:
            near_duplicates.append({"event_id": rec.event_id, "duplicate_of": rec.duplicate_of,
                                    "kind": rec.kind})

    # Popular questions: the first asking of the day duplicates yesterday's first asking, if any.
    first_today: dict[int, str] = {}
    first_yesterday = {}
    for rec in sorted(yesterday.interactions, key=lambda r: (r.ts, r.event_id)):
        if rec.kind == "popular":
            first_yesterday.setdefault(rec.popular, rec.event_id)
    for rec in sorted(day.interactions, key=lambda r: (r.ts, r.event_id)):
        if rec.kind != "popular":
            continue
        if rec.popular in first_today:
            dup_of = first_today[rec.popular]
        else:
            first_today[rec.popular] = rec.event_id
            dup_of = first_yesterday.get(rec.popular)
        if dup_of:
            near_duplicates.append({"event_id": rec.event_id, "duplicate_of": dup_of,
                                    "kind": "popular"})

    # Yesterday's clean interactions whose user asked no deletion on either day.
    blocked = set(day.deleting) | set(yesterday.deleting)
    clean_yesterday = [r for r in yesterday.interactions
                       if r.kind == "clean" and r.user not in blocked]
    # Cross-day re-posts: yesterday's exact interaction under a new event id.
    n_clean = sum(1 for r in day.interactions if r.kind == "clean")
    reposts = rng.sample(clean_yesterday, min(len(clean_yesterday),
                                              max(1, round(cfg.cross_day_repost_rate * n_clean))))
    for orig in reposts:
        rec = _Interaction(_uuid(seed, date, "repost", orig.event_id), orig.user,
                           orig.conversation_id, orig.turn, rng.randint(0, DAY_MS - 1), orig.topic,
                           orig.slots, orig.prompts, orig.system, 0.0, -1, kind="cross_day",
                           prior=orig.prior, parts_content=orig.parts_content,
                           metadata=orig.metadata, extras=orig.extras,
                           model_version=orig.model_version, quality=orig.quality,
                           style=orig.style, response=orig.response, latency_ms=orig.latency_ms)
        consent = yesterday.consent[orig.user]
        record, found = _interaction_record(rec, consent)
        record["timestamp"] = ts_str(rec.ts)
        record["user_id"] = user_ids[rec.user]
        add_interaction(rec, record, found)
        interactions_truth[rec.event_id] = {
            "user_id": user_ids[rec.user], "model_version": rec.model_version,
            "quality": rec.quality, "consent": consent, "kind": "cross_day", "style": rec.style,
        }
        near_duplicates.append({"event_id": rec.event_id, "duplicate_of": orig.event_id,
                                "kind": "cross_day"})

    def feedback(target: _Interaction | None, user: int, ts: int, kind: str,
                 interaction_id: str | None = None, edit_pii: tuple = (), **fields: Any) -> dict:
        nonlocal fb_counter
        fb_counter += 1
        event_id = _uuid(seed, date, "feedback", fb_counter)
        record = {"event_type": "feedback", "event_id": event_id,
                  "timestamp": ts_str(ts), "user_id": user_ids[user],
                  "interaction_id": interaction_id or target.event_id, "kind": kind}
        record.update(fields)
        found = [("edited_response", e, v) for e, v in edit_pii]
        comment = None
        if target is not None and kind in ("thumbs", "rating", "flag") and rng.random() < 0.3:
            good = (fields.get("value", 0) or 0) >= (1 if kind == "thumbs" else 4)
            comment = rng.choice(COMMENTS_GOOD if good else COMMENTS_BAD)
            if rng.random() < 0.25:
                etype = rng.choice(COMMENT_PII_TYPES)
                value = pii.value(etype)
                comment = f"{comment} {rng.choice(COMMENT_PII).format(v=value)}"
                found.append(("comment", etype, value))
            record["comment"] = comment
        if rng.random() < 0.2:
            record["metadata"] = {"surface": rng.choice(("chat", "sidebar", "email_digest"))}
        lines.append(_Line(_line(record), ts, event_id))
        for fld, etype, value in dict.fromkeys(found):
            truth_pii.append({"event_id": event_id, "field": fld, "entity_type": etype,
                              "value": value})
        return record

    def attribute(record: dict, target: _Interaction | None, status: str) -> None:
        feedback_truth[record["event_id"]] = {
            "interaction_id": record["interaction_id"], "kind": record["kind"],
            "model_version": target.model_version if target else None,
            "value": record.get("value"), "preferred": record.get("preferred"),
            "reason": record.get("reason"), "target": status,
        }

    def give(target: _Interaction, status: str, offset: int = 0) -> None:
        ts = target.ts + offset + rng.randint(5_000, 900_000)
        q = target.quality
        roll = rng.random()
        if target.style in FLAG_BY_STYLE and roll < 0.3:
            record = feedback(target, target.user, ts, "flag", reason=FLAG_BY_STYLE[target.style])
        elif target.kind == "junk" and roll < 0.15:
            record = feedback(target, target.user, ts, "flag", reason="other")
        elif roll < (0.2 if q < 0.7 else 0.04) and target.kind != "junk":
            edit_rng_slots = target.slots or _slots(target.topic, rng, _pools(seed))
            better = _good_answer(target.topic, edit_rng_slots, rng)
            edit_pii: tuple = ()
            prompt_pii = target.prompts[-1][1]
            if target.topic == "writing" and rng.random() < 0.4:
                value = pii.person()
                better = f"{better}\n\nBest,\n{value}"
                edit_pii = (("PERSON", value),)
            elif prompt_pii and rng.random() < 0.5:
                # Users keep their own details when they rewrite an answer.
                etype, value = rng.choice(prompt_pii)
                better = ECHO_PII[etype].format(v=value) + " " + better
                edit_pii = ((etype, value),)
            record = feedback(target, target.user, ts, "edit", edited_response=better,
                              edit_pii=edit_pii)
        elif rng.random() < 0.62:
            value = 1 if rng.random() < _p_thumbs_up(q) else -1
            record = feedback(target, target.user, ts, "thumbs", value=value)
        else:
            record = feedback(target, target.user, ts, "rating", value=_rating(q, rng))
        attribute(record, target, status)

    duplicate_ids = {d["event_id"] for d in near_duplicates}

    def status_of(rec: _Interaction) -> str:
        if rec.kind == "junk":
            return "junk"
        return "near_duplicate" if rec.event_id in duplicate_ids else "clean"

    for rec in day.interactions:
        if rec.kind == "ab":
            other = day.by_id[rec.ab_other]
            if rec.event_id < other.event_id and rng.random() < 0.9:
                p_this = 1 / (1 + math.exp(-8 * (rec.quality - other.quality)))
                preferred = "this" if rng.random() < p_this else "other"
                record = feedback(rec, rec.user, max(rec.ts, other.ts) + rng.randint(3_000, 120_000),
                                  "comparison", other_interaction_id=other.event_id,
                                  preferred=preferred)
                attribute(record, rec, "clean")
            continue
        if rng.random() < cfg.feedback_rate:
            give(rec, status_of(rec))
    cross_day_feedback = []
    for orig in rng.sample(clean_yesterday, min(len(clean_yesterday), max(
            1, round(cfg.cross_day_feedback_rate * n_clean)))):
        ts = rng.randint(0, DAY_MS - 1)
        if rng.random() < 0.6:
            value = 1 if rng.random() < _p_thumbs_up(orig.quality) else -1
            record = feedback(orig, orig.user, ts, "thumbs", value=value)
        else:
            record = feedback(orig, orig.user, ts, "rating", value=_rating(orig.quality, rng))
        attribute(record, orig, "cross_day")
        cross_day_feedback.append(record["event_id"])
    orphans = []
    for _ in range(max(1, round(cfg.orphan_feedback_rate * n_clean))):
        missing = _uuid(seed, date, "missing-interaction", rng.random())
        record = feedback(None, rng.randrange(day.users), rng.randint(0, DAY_MS - 1), "thumbs",
                          interaction_id=missing, value=rng.choice((1, -1)))
        attribute(record, None, "orphan")
        orphans.append(record["event_id"])
    deletions = []
    for user in day.deleting:
        event_id = _uuid(seed, date, "deletion", user)
        ts = rng.randint(DAY_MS // 2, DAY_MS - 1)
        lines.append(_Line(_line({"event_type": "deletion_request", "event_id": event_id,
                                  "timestamp": ts_str(ts), "user_id": user_ids[user]}), ts, event_id))
        deletions.append(user_ids[user])

    truth = {
        "interactions": interactions_truth,
        "feedback": feedback_truth,
        "pii": truth_pii,
        "near_duplicates": near_duplicates,
        "junk": junk,
        "orphan_feedback": orphans,
        "cross_day_feedback": cross_day_feedback,
        "deletion_requests": deletions,
        "opted_out_users": [user_ids[u] for u in range(day.users) if day.consent[u] is False],
        "no_consent_users": [user_ids[u] for u in range(day.users) if day.consent[u] is None],
    }
    truth["feedback_by_model_version"], truth["model_version_stats"] = _version_stats(
        day, yesterday, feedback_truth, interactions_truth)
    lines.sort(key=lambda ln: ln.ts)
    return lines, truth


def _version_stats(day: _Day, yesterday: _Day, feedback_truth: dict,
                   interactions_truth: dict) -> tuple[dict, dict]:
    counts: dict[str, dict] = {}
    expected_up: dict[str, list] = {}
    expected_rating: dict[str, list] = {}
    quality_of = {r.event_id: r.quality for r in yesterday.interactions}
    quality_of.update({k: v["quality"] for k, v in interactions_truth.items()})
    for fb in feedback_truth.values():
        v = fb["model_version"]
        if v is None:
            continue
        row = counts.setdefault(v, {"thumbs_up": 0, "thumbs_down": 0, "ratings_sum": 0,
                                    "ratings_n": 0, "edits": 0, "flags": 0, "comparisons": 0})
        q = quality_of[fb["interaction_id"]]
        if fb["kind"] == "thumbs":
            row["thumbs_up" if fb["value"] == 1 else "thumbs_down"] += 1
            expected_up.setdefault(v, []).append(_p_thumbs_up(q))
        elif fb["kind"] == "rating":
            row["ratings_sum"] += fb["value"]
            row["ratings_n"] += 1
            expected_rating.setdefault(v, []).append(_expected_rating(q))
        elif fb["kind"] == "edit":
            row["edits"] += 1
        elif fb["kind"] == "flag":
            row["flags"] += 1
        else:
            row["comparisons"] += 1
    stats = {}
    for index, v in enumerate(day.model_versions):
        qualities = [r.quality for r in day.interactions
                     if r.model_version == v and r.kind != "junk"]
        row = counts.get(v, {})
        n_thumbs = row.get("thumbs_up", 0) + row.get("thumbs_down", 0)
        stats[v] = {
            "interactions": sum(1 for r in day.interactions if r.model_version == v),
            "design_mean_quality": mean_quality(index),
            "mean_quality": round(sum(qualities) / len(qualities), 4) if qualities else None,
            "expected_thumbs_up_rate": _mean(expected_up.get(v)),
            "actual_thumbs_up_rate": round(row["thumbs_up"] / n_thumbs, 4) if n_thumbs else None,
            "expected_mean_rating": _mean(expected_rating.get(v)),
            "actual_mean_rating": (round(row["ratings_sum"] / row["ratings_n"], 4)
                                   if row.get("ratings_n") else None),
        }
    return dict(sorted(counts.items())), stats


def _mean(values: list | None) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


# --------------------------------------------------------------------------------------------
# Malformed lines: one mutation each, with the reason parse_line must give.


def _malformed(kind: str, interaction: dict, feedback: dict, rng: random.Random) -> bytes:
    i, f = json.loads(json.dumps(interaction)), json.loads(json.dumps(feedback))
    if kind == "invalid_json":
        return _line(i)[:-1] + b",}"
    if kind == "truncated_json":
        data = _line(i)
        return data[: rng.randint(20, len(data) - 2)].decode("utf-8", "ignore").encode()
    if kind == "missing_field":
        target = rng.choice((i, f))
        del target[rng.choice(("user_id", "timestamp", "event_id"))]
        return _line(target)
    if kind == "missing_response":
        del i["response"]
        return _line(i)
    if kind == "wrong_type":
        choice = rng.randrange(3)
        if choice == 0:
            i["turn"] = str(i["turn"])
        elif choice == 1:
            i["messages"] = i["messages"][-1]["content"] if isinstance(
                i["messages"][-1]["content"], str) else "hello"
        else:
            i["latency_ms"] = f"{i['latency_ms']}ms"
        return _line(i)
    if kind == "wrong_type_value":
        f["kind"], f["value"] = "rating", "5"
        return _line(f)
    if kind == "invalid_utf8":
        data = _line(i)
        at = data.index(b'"response":"') + len(b'"response":"')
        return data[:at] + b"caf\xe9 cr\xe8me " + data[at:]
    if kind == "unknown_event_type":
        i["event_type"] = rng.choice(("page_view", "click", "Interaction", "feedbacks"))
        return _line(i)
    if kind == "invalid_timestamp":
        ts = i["timestamp"]
        i["timestamp"] = rng.choice((ts[:19], ts[:10] + " " + ts[11:19], "28/11/2026 09:15",
                                     ts[:11] + "25:61:00Z", ts[:5] + "02-30T10:00:00Z"))
        return _line(i)
    if kind == "invalid_value":
        choice = rng.randrange(6)
        if choice == 0:
            f.update(kind="rating", value=rng.choice((0, 6, 7, 10)))
        elif choice == 1:
            f.update(kind="thumbs", value=rng.choice((0, 2, 5)))
        elif choice == 2:
            f.update(kind="like", value=1)
        elif choice == 3:
            i["turn"] = -1
            return _line(i)
        elif choice == 4:
            i["latency_ms"] = -abs(i["latency_ms"])
            return _line(i)
        else:
            f.update(kind="flag", reason="spam")
            f.pop("value", None)
        return _line(f)
    if kind == "not_an_object":
        return _line(rng.choice(([i], "interaction", None)))
    if kind == "missing_event_type":
        del i["event_type"]
        return _line(i)
    if kind == "empty_line":
        return b"   "
    raise ValueError(kind)


MALFORMED_KINDS = {
    "invalid_json": c.INVALID_JSON,
    "truncated_json": c.INVALID_JSON,
    "missing_field": c.MISSING_FIELD,
    "missing_response": c.MISSING_FIELD,
    "wrong_type": c.WRONG_TYPE,
    "wrong_type_value": c.WRONG_TYPE,
    "invalid_utf8": c.INVALID_UTF8,
    "unknown_event_type": c.UNKNOWN_EVENT_TYPE,
    "invalid_timestamp": c.INVALID_TIMESTAMP,
    "invalid_value": c.INVALID_VALUE,
    "not_an_object": c.NOT_AN_OBJECT,
    "missing_event_type": c.MISSING_EVENT_TYPE,
    "empty_line": c.EMPTY_LINE,
}


def _write(landing: Path, day: _Day, lines: list[_Line], truth: dict,
           prev_versions: tuple[str, ...], cfg: SimulateConfig) -> Path:
    rng = random.Random(f"{day.seed}|{day.date}|files")
    names = [f"events-{i:05d}.jsonl" for i in range(cfg.files - 1)] + [
        f"events-{cfg.files - 1:05d}.jsonl.gz"]
    files: list[list[_Line]] = [[] for _ in names]
    for ln in lines:
        files[rng.randrange(len(names))].append(ln)

    # Malformed lines are made from fresh events so their ids collide with nothing.
    interactions = [ln for ln in lines if b'"event_type":"interaction"' in ln.data[:40]]
    feedbacks = [ln for ln in lines if b'"event_type":"feedback"' in ln.data[:40]
                 and b'"kind":"thumbs"' in ln.data]
    n_malformed = max(len(MALFORMED_KINDS), round(cfg.malformed_rate * len(lines)))
    kinds = list(MALFORMED_KINDS)
    for n in range(n_malformed):
        kind = kinds[n] if n < len(kinds) else rng.choice(kinds)
        base_i = json.loads(rng.choice(interactions).data)
        base_f = json.loads(rng.choice(feedbacks).data) if feedbacks else {
            "event_type": "feedback", "timestamp": base_i["timestamp"],
            "user_id": base_i["user_id"], "interaction_id": base_i["event_id"],
            "kind": "thumbs", "value": 1}
        base_i["event_id"] = _uuid(day.seed, day.date, "malformed-i", n)
        base_f["event_id"] = _uuid(day.seed, day.date, "malformed-f", n)
        target = files[rng.randrange(len(names))]
        target.insert(rng.randint(0, len(target)),
                      _Line(_malformed(kind, base_i, base_f, rng), 0, None,
                            MALFORMED_KINDS[kind], kind))

    # Re-deliveries: byte-identical copies appended later, in the same or a later file.
    valid = [(fi, ln) for fi, fl in enumerate(files) for ln in fl if ln.malformed is None]
    n_redelivered = max(2, round(cfg.redelivered_rate * len(lines)))
    for fi, ln in rng.sample(valid, min(len(valid), n_redelivered)):
        files[rng.randint(fi, len(files) - 1)].append(_Line(ln.data, ln.ts, ln.event_id,
                                                            redelivered=True))

    partition = landing / f"dt={day.date}"
    partition.mkdir(parents=True, exist_ok=True)
    for old in partition.glob("events-*.jsonl*"):
        old.unlink()
    malformed, redelivered = [], []
    lines_total = 0
    for name, fl in zip(names, files, strict=True):
        for number, ln in enumerate(fl, start=1):
            if ln.malformed:
                malformed.append({"file": name, "line": number, "reason": ln.malformed,
                                  "kind": ln.malformed_kind})
            elif ln.redelivered:
                redelivered.append({"event_id": ln.event_id, "file": name, "line": number})
        data = b"".join(ln.data + b"\n" for ln in fl)
        lines_total += len(fl)
        if name.endswith(".gz"):
            data = gzip.compress(data, compresslevel=6, mtime=0)
        tmp = partition / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(partition / name)

    out = {
        "date": day.date,
        "seed": day.seed,
        "users": day.users,
        "model_versions": list(day.model_versions),
        "previous_model_versions": list(prev_versions),
        "files": names,
        "lines_total": lines_total,
        "events_valid": lines_total - len(malformed),
        "malformed": malformed,
        "redelivered": redelivered,
    }
    out.update(truth)
    truth_dir = landing / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    path = truth_dir / f"dt={day.date}.json"
    tmp = truth_dir / f".dt={day.date}.json.tmp"
    tmp.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n")
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m feedback.simulate",
        description="Write one day of synthetic landing traffic and its ground truth.")
    parser.add_argument("--landing", required=True, type=Path, help="landing root folder")
    parser.add_argument("--date", required=True, help="partition date, YYYY-MM-DD")
    parser.add_argument("--users", type=int, default=100, help="active users (about 10 events each)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--model-version", default="v1",
                        help="comma-separated model versions, oldest first (later = better)")
    parser.add_argument("--previous-model-version", default=None,
                        help="model versions of the previous day (default: its truth file)")
    args = parser.parse_args(argv)
    try:
        versions = tuple(v.strip() for v in args.model_version.split(",") if v.strip())
        previous = (tuple(v.strip() for v in args.previous_model_version.split(",") if v.strip())
                    if args.previous_model_version else None)
        path = simulate_day(args.landing, args.date, args.users, args.seed, versions, previous)
    except (ValueError, OSError) as exc:
        print(f"simulate: error: {exc}", file=sys.stderr)
        return 2
    truth = json.loads(path.read_text())
    print(f"wrote {truth['lines_total']} lines for dt={args.date} under {args.landing} "
          f"(truth: {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
