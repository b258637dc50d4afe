"""Planted PII: the values (fake but valid-looking: Luhn-valid cards, checksummed IBANs) and the
phrases that carry them into prompts, answers and comments."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from feedback.simulate.topics import WORDS_EXTRA

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
# Feedback comments that carry PII, and the types they carry.
COMMENT_PII = ("If you need more info call me at {v}.", "my email is {v} if support wants to follow up.",
               "{v} here, still waiting.")
COMMENT_PII_TYPES = ("PHONE_NUMBER", "EMAIL_ADDRESS", "PERSON")


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



# PII pools, built once per seed (Faker is slow per call, fast as a pool).


@dataclass(frozen=True)
class Pools:
    first: tuple[str, ...]
    last: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    free_domains: tuple[str, ...]
    company_domains: tuple[str, ...]
    words: tuple[str, ...]


@lru_cache(maxsize=4)
def seed_pools(seed: int) -> Pools:
    # Faker loads its providers on import; only a run that generates a day pays for it.
    from faker import Faker
    from faker.providers.lorem.en_US import Provider as Lorem

    fake = Faker("en_US")
    fake.seed_instance(seed)
    words = tuple(w for w in Lorem.word_list if len(w) >= 4) + tuple(WORDS_EXTRA)
    return Pools(
        first=tuple(fake.first_name() for _ in range(400)),
        last=tuple(fake.last_name() for _ in range(400)),
        streets=tuple(fake.street_address() for _ in range(300)),
        cities=tuple(f"{fake.city()}, {fake.state_abbr()} {fake.zipcode()}" for _ in range(300)),
        free_domains=("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "proton.me",
                      "icloud.com"),
        company_domains=tuple(fake.domain_name() for _ in range(60)),
        words=words,
    )


class PIIDrawer:
    """Draws fake but valid-looking PII values of each type."""

    def __init__(self, pools: Pools, rng: random.Random):
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

