"""Word lists: technical terms, ambiguous names and places, and the two gazetteers."""

from __future__ import annotations

import re

# --- words that are never PII -------------------------------------------------------------------

# Programming languages, tools and products the small NER model tags GPE/PERSON/ORG ("how do I
# reverse a list in Python?" -> "in <LOCATION>?"). An NER span made only of these words is
# dropped. Words that are also common given names (Julia, Ruby, Ada, Pascal, Dart, Swift, ...) are
# listed in TECH_NAME_WORDS instead: dropped as a place or organisation, kept when tagged PERSON.
TECH_WORDS = frozenset(w.lower() for w in """
    Python Java JavaScript TypeScript Rust Go Golang Kotlin Scala Haskell Perl PHP Lua Elixir
    Erlang Clojure Fortran COBOL Lisp Scheme OCaml Fsharp Matlab Octave Bash Zsh PowerShell Groovy
    Objective-C Assembly Solidity Verilog VHDL Prolog Racket Nim Zig Crystal Delphi VBA
    SQL NoSQL MySQL PostgreSQL Postgres SQLite MongoDB Redis Cassandra Elasticsearch DynamoDB
    Snowflake BigQuery DuckDB Parquet Kafka Spark Hadoop Hive Airflow Beam Flink Dask Pandas
    NumPy SciPy Matplotlib Seaborn Plotly Jupyter Colab Keras TensorFlow PyTorch Torch JAX
    Scikit-learn Sklearn HuggingFace Transformers LangChain Llama GPT ChatGPT Copilot OpenAI
    Gemini Bard Mistral BERT Whisper
    React Angular Vue Svelte Django Flask FastAPI Rails Laravel Symfony Express Node Node.js
    Deno Next.js Nuxt jQuery Bootstrap Tailwind Spring Hibernate Maven Gradle npm Yarn pip Conda
    Anaconda Poetry Docker Kubernetes Helm Terraform Ansible Jenkins Vagrant Nginx Apache Tomcat
    Linux Ubuntu Debian Fedora CentOS Arch Windows macOS iOS Android Unix FreeBSD WSL
    Git GitHub GitLab Bitbucket Jira Confluence Slack Zoom Teams Discord Notion Trello Figma
    Excel Word PowerPoint Outlook OneNote Access SharePoint OneDrive Dropbox Gmail Chrome Firefox
    Safari Edge Opera Photoshop Illustrator Premiere Blender Unity Unreal Godot AutoCAD Tableau
    PowerBI Looker Salesforce SAP Oracle Azure AWS GCP Lambda Heroku Vercel Netlify Cloudflare
    Vim Neovim Emacs VSCode IntelliJ PyCharm Eclipse Xcode LaTeX Markdown HTML CSS JSON YAML XML
    TOML CSV Regex Wi-Fi Bluetooth USB HDMI Ethernet
""".split())
TECH_NAME_WORDS = frozenset("julia ruby ada pascal dart swift elm r c".split())


CONNECTORS = frozenset("with and or on in for of the & to vs".split())


def is_tech_term(span_text: str, as_person: bool) -> bool:
    """True when every word of an NER span is a technical/product word (see TECH_WORDS)."""
    words = [w for w in re.split(r"[\s/,]+", span_text.strip().strip(".,;:!?()\"'")) if w]
    if not words:
        return False
    words = [w for w in words if w.lower() not in CONNECTORS]  # "Ubuntu with Kubernetes"
    if not words:
        return False
    allowed = TECH_WORDS if as_person else TECH_WORDS | TECH_NAME_WORDS
    return all(w.lower().strip("+#") in allowed or w.lower() in allowed for w in words)


# --- names from the US Census first-name gazetteer ------------------------------------------------

# Census first names that are also everyday English words. Derived once from independent real
# text (the lower-case words of Anthropic hh-rlhf, Arena-Hard prompts and OpenAssistant messages:
# a census name written lower case at least a third as often as capitalised), then pruned by hand
# of real names people merely type lower case, plus months, colours and plants. Such a word is a
# name only when NER or a cue says so.
AMBIGUOUS_FIRST_NAMES = frozenset("""
    abbey abe ada ai al alpha an angel angle art bea bee bell bill brain buck buddy bunny candy
    carry chance charity chase cherry chin conception coral coy cruz crystal dahlia dawn deb dede
    dee del delta desire destiny diamond dick don dot echo ed eda else era eve fae faith fe forest
    foster gay gene ginger glory golden grace guy ha hang harmony herb honey hope hue hung hunter
    in irish joy junior karma kit kitty lady lang le lean len loan long lore love major man manual
    many marine mark marry max may melody mercy merry meta miles min miss moon mora my na noble
    numbers ok olive page patience pearl peg penny precious prince princess queen ray rich rob
    ruby season see so son song soon spring star stormy sue summer sun sunny sunshine ta temple
    tequila tiny un valentine van will winter young
    april june august jack rose grant lane pat sandy amber ivy jade hazel violet iris autumn river
    sky rusty christian norman english french august royal sterling earnest frank
""".split())
_NAMES_CACHE: dict[str, frozenset[str]] = {}


def census_names(kind: str) -> frozenset[str]:
    """Lower-cased US Census 1990 names shipped in the ``names`` package (MIT).

    ``kind``: ``"first"`` (male + female given names, ~5.2k) or ``"last"`` (surnames, ~89k).
    An independent source from the Faker locale lists that generated the benchmark texts.
    """
    if kind not in _NAMES_CACHE:
        import importlib.resources

        files = ("dist.male.first", "dist.female.first") if kind == "first" else ("dist.all.last",)
        root = importlib.resources.files("names")
        _NAMES_CACHE[kind] = frozenset(
            line.split()[0].lower()
            for f in files
            for line in (root / f).read_text().splitlines()
            if line.strip()
        )
    return _NAMES_CACHE[kind]


# words that open a dialogue line but name a role, not a person ("Human:", "Q:", "Note:")
LINE_LABELS = frozenset("""
    human assistant user system bot ai model gpt chatgpt claude agent customer support admin
    moderator host guest interviewer interviewee speaker narrator q a question answer note notes
    subject re fw fwd from to cc bcc date time phone tel fax mobile cell email e-mail address name
    title summary example input output response reply result error warning info tip hint step
    total price cost zip city state country company website url id ssn dob age sex gender
    directed written produced starring genre rating runtime language source update edit ps nb
""".split())

INTERJECTIONS = frozenset("""
    hi hey hello yes yeah yep no nope ok okay sorry please thanks thank well so now also actually
    honestly seriously look listen wait guys folks everyone everybody sir madam maam ma'am dear
    mom dad mum boss doctor doc officer teacher friend friends buddy dude man bro sis honey babe
    baby darling sweetie kids children team all ladies gentlemen boys girls oh ah um uh hmm alright
    right sure fine great cool anyway besides however then first second finally again today
    tomorrow yesterday sometimes meanwhile also otherwise therefore moreover furthermore
    professor mr mrs ms dr
""".split())

# --- places from the GeoNames gazetteer ----------------------------------------------------------

# Single-word GeoNames city names that are everyday English words. Derived once from independent
# real text (hh-rlhf, Arena-Hard prompts, OpenAssistant messages: a city name seen lower case
# there at least a third as often as capitalised), like AMBIGUOUS_FIRST_NAMES. Such a word is a
# place only when NER or a cue says so.
AMBIGUOUS_PLACE_WORDS = frozenset("""
    along alot anthem baldwin bar barking bath bay beacon bear begun bell bend bender best boo
    born bury bush buy calhoun can central cocoa coin colon come concord converse crystal date
    deal deerfield dig drama federal flint ganja gap gay george goes golden green hit ho holiday
    hue hull humble independence lens liberal liberty luau male man manage manga marks mason
    mentor mission mobile mora moron most much mut nice normal of opportunity oral orange parole
    pearl peer pen plantation po police pop providence punch ramon reading retreat ron roses sake
    sale salt samba same savage save sedan shaping since split spring superior sur surprise tank
    temple tequila than tire torrent tours university van wedding worms young
    god union roman eagle mustang mach
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
""".split())
_PLACES_CACHE: list[frozenset[str]] = []
_PLACE_JOINERS = frozenset("de la del las los le les du des da do dos di am an im upon on sur "
                           "of the y e en".split())


def gazetteer_places() -> frozenset[str]:
    """Lower-cased city (population >= 15,000) and country names shipped in ``geotext`` (MIT code,
    GeoNames data CC-BY 3.0): ``cities15000.txt`` name + ASCII name, ``countryInfo.txt`` names."""
    if not _PLACES_CACHE:
        import importlib.resources

        root = importlib.resources.files("geotext") / "data"
        names = set()
        for line in (root / "cities15000.txt").read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) > 2:
                names.update((fields[1].lower(), fields[2].lower()))
        for line in (root / "countryInfo.txt").read_text(encoding="utf-8-sig").splitlines():
            fields = line.split("\t")
            if not line.startswith("#") and len(fields) > 4:
                names.add(fields[4].lower())
        names.discard("")
        _PLACES_CACHE.append(frozenset(names))
    return _PLACES_CACHE[0]


