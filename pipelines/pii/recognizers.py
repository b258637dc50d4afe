"""The finder functions as Presidio recognizers, so one ``AnalyzerEngine`` runs them all.

Each :class:`FinderRecognizer` subclass wraps one pure function of :mod:`pipelines.pii.finders`
behind a cheap pre-check (a text without a digit cannot hold a phone number). They run next to
Presidio's own ``EmailRecognizer``, ``PhoneRecognizer``, ``CreditCardRecognizer``, ... and
``SpacyRecognizer`` and cover what those miss on real-looking data (see docs/pii.md).
"""

from __future__ import annotations

from abc import abstractmethod

from presidio_analyzer import LocalRecognizer, RecognizerResult

from pipelines.pii.finders import (
    addresses,
    casual,
    contact,
    numbers,
    organizations,
    people,
    places,
    vocab,
)
from pipelines.pii.finders.base import Finding, has_digit


def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


class FinderRecognizer(LocalRecognizer):
    """A Presidio recognizer over one finder function.

    ``TRIGGER`` is the cheap pre-check: ``None`` = any text, ``"digit"`` = a text must hold a
    digit before the regexes run at all.
    """

    ENTITIES: tuple[str, ...] = ()
    TRIGGER: str | None = None

    def __init__(self):
        super().__init__(supported_entities=list(self.ENTITIES), supported_language="en",
                         name=type(self).__name__)

    def load(self) -> None:
        pass  # regexes compile at import

    @abstractmethod
    def find(self, text: str) -> list[Finding]:
        """Spans of this recognizer's entities in ``text``."""

    def analyze(self, text, entities, nlp_artifacts=None):
        if self.TRIGGER == "digit" and not has_digit(text):
            return []
        return [
            RecognizerResult(f.entity, f.start, f.end, f.score,
                             recognition_metadata={
                                 RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                 RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})
            for f in self.find(text)
            if f.entity in entities
        ]


class OfflineEmailRecognizer(FinderRecognizer):
    ENTITIES = ("EMAIL_ADDRESS",)

    def load(self) -> None:  # EntityRecognizer.__init__ calls it
        self._tld = contact.make_offline_tld_extractor()
        self._tld("example.com")  # read the bundled snapshot now, not on the first e-mail

    def find(self, text):
        return contact.find_emails(text, self._tld)


class PhoneFormatsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("PHONE_NUMBER",), "digit"
    find = staticmethod(numbers.find_phones)


class CardDigitsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("CREDIT_CARD",), "digit"
    find = staticmethod(numbers.find_cards)


class IbanGroupsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("IBAN_CODE",), "digit"
    find = staticmethod(numbers.find_ibans)


class SsnFormatsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("US_SSN",), "digit"
    find = staticmethod(numbers.find_ssns)


class IpAddressFormatsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("IP_ADDRESS",), "digit"
    find = staticmethod(numbers.find_ips)


class DriverLicenseCueRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("US_DRIVER_LICENSE",), "digit"
    find = staticmethod(numbers.find_licenses)


class ZipCodeRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("ZIP_CODE",), "digit"
    find = staticmethod(numbers.find_zips)


class RegionZipRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("ZIP_CODE",), "digit"
    find = staticmethod(numbers.find_region_zips)


class StreetAddressRecognizer(FinderRecognizer):
    ENTITIES = ("STREET_ADDRESS",)
    find = staticmethod(addresses.find_addresses)


class UrlFormatsRecognizer(FinderRecognizer):
    ENTITIES = ("URL",)
    find = staticmethod(contact.find_urls)


class CueNameRecognizer(FinderRecognizer):
    """Names after a title or an introduction, ``First X. Last``."""

    ENTITIES = ("PERSON",)
    find = staticmethod(people.find_names)


class GazetteerNameRecognizer(FinderRecognizer):
    """Census given names; stop words come from spaCy."""

    ENTITIES = ("PERSON",)

    def load(self) -> None:
        vocab.census_names("first"), vocab.census_names("last")
        self._stop_words = _stop_words()

    def find(self, text):
        return people.find_gazetteer_names(text, self._stop_words)


class CuePeopleRecognizer(FinderRecognizer):
    ENTITIES = ("PERSON",)

    def load(self) -> None:
        self._stop_words = _stop_words()

    def find(self, text):
        return people.find_cue_people(text, self._stop_words)


class CuePlaceRecognizer(FinderRecognizer):
    ENTITIES = ("LOCATION",)
    find = staticmethod(places.find_places)


class GazetteerPlaceRecognizer(FinderRecognizer):
    """GeoNames cities and countries."""

    ENTITIES = ("LOCATION",)

    def load(self) -> None:
        vocab.gazetteer_places()
        self._stop_words = _stop_words()

    def find(self, text):
        return places.find_gazetteer_places(text, self._stop_words)


class CuePlaceLabelRecognizer(FinderRecognizer):
    ENTITIES = ("LOCATION",)
    find = staticmethod(places.find_cue_places)


class OrganizationFormsRecognizer(FinderRecognizer):
    ENTITIES = ("ORGANIZATION",)
    find = staticmethod(organizations.find_organizations)


class CueOrganizationRecognizer(FinderRecognizer):
    ENTITIES = ("ORGANIZATION",)
    find = staticmethod(organizations.find_cue_organizations)


# every recognizer of ours, in the order the registry gets them
CUSTOM_RECOGNIZERS: tuple[type[FinderRecognizer], ...] = (
    OfflineEmailRecognizer, PhoneFormatsRecognizer, CardDigitsRecognizer, IbanGroupsRecognizer,
    SsnFormatsRecognizer, IpAddressFormatsRecognizer, DriverLicenseCueRecognizer,
    ZipCodeRecognizer, StreetAddressRecognizer, UrlFormatsRecognizer, CueNameRecognizer,
    GazetteerNameRecognizer, CuePlaceRecognizer, OrganizationFormsRecognizer, RegionZipRecognizer,
    GazetteerPlaceRecognizer, CuePeopleRecognizer, CueOrganizationRecognizer,
    CuePlaceLabelRecognizer,
)


class CasualNameRecognizer(FinderRecognizer):
    """@handles, lower-case and ALL-CAPS names and places (``ScrubConfig.casual_names``)."""

    ENTITIES = ("PERSON", "LOCATION")

    def load(self) -> None:
        self._stop_words = _stop_words()

    def find(self, text):
        return casual.find_casual_names(text, self._stop_words)
