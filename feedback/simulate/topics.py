"""Text material of the simulated traffic: topics, their templates, and canned answer styles.

Nothing here is a person name: every name in the output is planted PII (see ``pii``).
"""

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


# Feedback comments, and the flag reason a bad answer style earns.
COMMENTS_GOOD = ("Great, thanks!", "exactly what I needed", "Clear and helpful.",
                 "This saved me an hour.", "perfect, thank you")
COMMENTS_BAD = ("This is wrong.", "didn't answer my question", "way too short",
                "rude answer, not ok", "It cut off in the middle.", "Not helpful at all.")
FLAG_BY_STYLE = {"rude": "offensive", "wrong": "wrong", "off_topic": "other"}
