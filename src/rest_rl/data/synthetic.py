"""A small, deterministic tool world: the embedded default data for demos and tests.

Thirty tools in seven domains (weather, travel, finance, calendar, messaging, math, shopping) with
typed parameters (string, integer, number, boolean, enum; required and optional). Each example
lists a few tools (the ones needed plus distractors) and a user request made from one of 3-5
templates of a tool with slot values; the gold answer, in ToolRL's output format, is

* one call (most examples),
* two calls in one block (a request with two parts), or
* no call: a ``<response>`` only, for chit-chat or for a request none of the listed tools can serve.

The ``<think>`` text varies (several phrasings that mention the slot values; ``think_style="fixed"``: five
fixed phrasings that name neither tool nor value) while the calls are
fixed by the request: reasoning is high-entropy, calls low-entropy, as in real data.

Splits: ``train``; ``validation`` and ``test``, held-out *requests* (no prompt of either repeats a
train prompt or one of the other) drawn from the same distribution as ``train``; and ``novel``, an
out-of-distribution probe: a share of every value pool (cities, names, tickers, numbers, ...) is held
out once per world and only ``novel`` uses those values, so its accuracy measures whether a model
copies values it never saw in training (the tokenizer corpus leaves them out too).

Prompts are compact (see :func:`rest_rl.toolcall.prompts.compact_system_prompt`, style
``"compact"`` of :func:`rest_rl.data.prompting.to_prompt_messages`): about 100 tokens with a
1k-vocabulary BPE for three tools, completions about 40.

    world = SyntheticWorld(SyntheticConfig(seed=0))
    splits = make_splits(SyntheticConfig(n_train=5000))
    texts = corpus_texts(SyntheticConfig())       # for training a tokenizer
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rest_rl.data.schema import ToolExample
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "SPLITS",
    "SyntheticConfig",
    "SyntheticWorld",
    "corpus_texts",
    "filler_sentences",
    "make_splits",
    "validate_call",
]

SPLITS = ("train", "validation", "test", "novel")

# ------------------------------------------------------------------------------------------------
# Catalogue (immutable)
# ------------------------------------------------------------------------------------------------

_CITIES = (
    "Paris", "Rome", "Berlin", "Madrid", "Lisbon", "Vienna", "Prague", "Oslo", "Dublin", "Athens",
    "Tokyo", "Seoul", "Delhi", "Cairo", "Lima", "Quito", "Boston", "Denver", "Austin", "Seattle",
    "Chicago", "Miami", "Toronto", "Sydney", "Perth", "Nairobi", "Dakar", "Hanoi", "Manila", "Dubai",
    "Zurich", "Munich", "Milan", "Naples", "Porto", "Krakow", "Riga", "Tallinn", "Helsinki", "Bergen",
)  # fmt: skip
_PEOPLE = (
    "Alice", "Bob", "Carla", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wei",
    "Yusuf", "Zoe", "Anna", "Ben", "Chloe", "Dan", "Eva", "Finn", "Lena",
)  # fmt: skip
_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "CNY", "SEK", "NOK", "MXN", "BRL", "ZAR")
_TICKERS = (
    "AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "IBM", "ORCL", "INTC", "AMD", "NFLX",
    "UBER", "SHOP", "SAP", "ADBE",
)  # fmt: skip
_PRODUCTS = (
    "headphones", "laptop", "backpack", "umbrella", "kettle", "desk lamp", "yoga mat", "phone case",
    "water bottle", "sneakers", "keyboard", "monitor", "blender", "camera", "watch", "scarf", "tent",
    "toaster", "pillow", "charger",
)  # fmt: skip
_EVENTS = (
    "team meeting", "dentist", "yoga class", "project review", "gym", "book club", "piano lesson",
    "doctor visit", "standup", "lunch date", "parent call", "haircut",
)  # fmt: skip
_TEXTS = (
    "running late", "see you soon", "call me back", "meeting moved", "happy birthday", "lunch at noon",
    "on my way", "thanks a lot", "good luck today", "dinner is ready", "almost there", "miss you",
)  # fmt: skip
_SUBJECTS = (
    "weekly report", "invoice", "holiday plans", "meeting notes", "budget", "party invite",
    "travel plans", "feedback", "contract", "schedule",
)  # fmt: skip
_LANGUAGES = (
    "French", "Spanish", "German", "Italian", "Japanese", "Korean", "Portuguese", "Dutch", "Swedish",
    "Polish", "Turkish", "Greek",
)  # fmt: skip
_PHRASES = (
    "good morning", "where is the station", "thank you", "how much is this", "I am hungry",
    "see you tomorrow", "what time is it", "nice to meet you", "the bill please", "I need help",
    "where is the hotel", "one coffee please",
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIMES = tuple(f"{h:02d}:{m:02d}" for h in range(7, 21) for m in (0, 30))
_ORDER_IDS = tuple(f"A{n}" for n in range(101, 161))
_AMOUNTS = tuple(list(range(5, 1000, 15)) + [x + 0.5 for x in range(2, 60, 3)])
_SMALL = tuple(range(1, 10))
_NUMBERS = tuple(range(2, 1000, 7))
_PERCENTS = tuple(range(5, 31))
_MINUTES = tuple(range(5, 125, 5))

# Words a sentence may start with that must keep their capital letter.
_PROPER = frozenset(_CITIES + _PEOPLE + _LANGUAGES + _DAYS + ("I", "I'll"))

_POOLS: Mapping[str, tuple[Any, ...]] = MappingProxyType(
    {
        "city": _CITIES,
        "person": _PEOPLE,
        "currency": _CURRENCIES,
        "ticker": _TICKERS,
        "product": _PRODUCTS,
        "event": _EVENTS,
        "text": _TEXTS,
        "subject": _SUBJECTS,
        "language": _LANGUAGES,
        "phrase": _PHRASES,
        "day": _DAYS,
        "time": _TIMES,
        "order": _ORDER_IDS,
        "amount": _AMOUNTS,
        "small": _SMALL,
        "days": tuple(range(1, 8)),
        "nights": tuple(range(1, 15)),
        "number": _NUMBERS,
        "percent": _PERCENTS,
        "minutes": _MINUTES,
        "year": tuple(range(1, 31)),
    }
)


@dataclass(frozen=True)
class _Param:
    name: str
    type: str  # "string" | "integer" | "number" | "boolean"
    description: str
    pool: str | None = None  # value pool for free slots
    enum: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class _Template:
    text: str  # "{slot}" placeholders are parameter names
    fixed: tuple[tuple[str, Any], ...] = ()  # arguments implied by the wording


def _t(text: str, **fixed: Any) -> _Template:
    return _Template(text, tuple(fixed.items()))


@dataclass(frozen=True)
class _Tool:
    name: str
    domain: str
    description: str
    capability: str  # completes "... can <capability>"
    params: tuple[_Param, ...]
    templates: tuple[_Template, ...]


def _p(name: str, type_: str, description: str, pool: str | None = None, *, enum: tuple[str, ...] = (), required: bool = True) -> _Param:
    return _Param(name, type_, description, pool, enum, required)


_CATALOGUE: tuple[_Tool, ...] = (
    # weather
    _Tool("get_weather", "weather", "Current weather in a city.", "check the current weather",
          (_p("city", "string", "City name.", "city"),
           _p("unit", "string", "Temperature unit.", enum=("celsius", "fahrenheit"), required=False)),
          (_t("What's the weather in {city}?"), _t("How warm is it in {city} right now, in {unit}?"),
           _t("Tell me the current weather for {city}."), _t("Is it raining in {city} at the moment?"),
           _t("Weather in {city} please, in {unit}."))),
    _Tool("get_forecast", "weather", "Weather forecast for the next days.", "give a weather forecast",
          (_p("city", "string", "City name.", "city"), _p("days", "integer", "Number of days.", "days")),
          (_t("Forecast for {city} for the next {days} days?"), _t("What will the weather be in {city} over {days} days?"),
           _t("Give me a {days}-day forecast for {city}."))),
    _Tool("get_air_quality", "weather", "Air quality index of a city.", "report air quality",
          (_p("city", "string", "City name.", "city"),),
          (_t("How is the air quality in {city}?"), _t("Is the air clean in {city} today?"), _t("Air pollution level in {city}?"))),
    # travel
    _Tool("search_flights", "travel", "Find flights between two cities.", "search for flights",
          (_p("origin", "string", "Departure city.", "city"), _p("destination", "string", "Arrival city.", "city"),
           _p("cabin", "string", "Cabin class.", enum=("economy", "business", "first"), required=False)),
          (_t("Find flights from {origin} to {destination}."), _t("I need a {cabin} flight from {origin} to {destination}."),
           _t("Are there flights to {destination} from {origin}?"), _t("Search {cabin} class flights {origin} to {destination}."))),
    _Tool("book_hotel", "travel", "Book a hotel room.", "book a hotel",
          (_p("city", "string", "City name.", "city"), _p("nights", "integer", "Number of nights.", "nights"),
           _p("guests", "integer", "Number of guests.", "small", required=False)),
          (_t("Book a hotel in {city} for {nights} nights."), _t("I need a room in {city} for {guests} guests, {nights} nights."),
           _t("Reserve {nights} nights at a hotel in {city}."), _t("Get me a hotel in {city}: {nights} nights, {guests} people."))),
    _Tool("find_restaurants", "travel", "Restaurants in a city by cuisine.", "find restaurants",
          (_p("city", "string", "City name.", "city"),
           _p("cuisine", "string", "Kind of food.", enum=("italian", "thai", "indian", "mexican", "japanese"))),
          (_t("Find {cuisine} restaurants in {city}."), _t("Where can I eat {cuisine} food in {city}?"),
           _t("Any good {cuisine} places in {city}?"))),
    _Tool("get_train_times", "travel", "Train departures between two cities.", "look up train times",
          (_p("origin", "string", "Departure city.", "city"), _p("destination", "string", "Arrival city.", "city")),
          (_t("When are the trains from {origin} to {destination}?"), _t("Train times {origin} to {destination}?"),
           _t("Show me trains to {destination} leaving {origin}."))),
    _Tool("rent_car", "travel", "Rent a car in a city.", "rent a car",
          (_p("city", "string", "Pickup city.", "city"), _p("days", "integer", "Rental days.", "days")),
          (_t("Rent a car in {city} for {days} days."), _t("I need a rental car in {city}, {days} days."),
           _t("Can you book a car for {days} days in {city}?"))),
    # finance
    _Tool("get_stock_price", "finance", "Latest price of a stock.", "look up stock prices",
          (_p("ticker", "string", "Stock symbol.", "ticker"),),
          (_t("What's the price of {ticker}?"), _t("How is {ticker} trading today?"), _t("Quote for {ticker} please."))),
    _Tool("convert_currency", "finance", "Convert money between currencies.", "convert currencies",
          (_p("amount", "number", "Amount of money.", "amount"), _p("source", "string", "From currency.", "currency"),
           _p("target", "string", "To currency.", "currency")),
          (_t("Convert {amount} {source} to {target}."), _t("How much is {amount} {source} in {target}?"),
           _t("Change {amount} {source} into {target}."))),
    _Tool("get_exchange_rate", "finance", "Exchange rate between two currencies.", "give exchange rates",
          (_p("source", "string", "Base currency.", "currency"), _p("target", "string", "Quote currency.", "currency")),
          (_t("What's the {source} to {target} rate?"), _t("Exchange rate from {source} to {target}?"),
           _t("How many {target} for one {source}?"))),
    _Tool("calculate_tip", "finance", "Tip for a bill.", "calculate a tip",
          (_p("bill", "number", "Bill amount.", "amount"), _p("percent", "integer", "Tip percent.", "percent")),
          (_t("What's a {percent} percent tip on {bill}?"), _t("Tip {percent}% on a bill of {bill}."),
           _t("Calculate the tip for {bill} at {percent} percent."))),
    _Tool("calculate_loan", "finance", "Monthly payment of a loan.", "compute loan payments",
          (_p("amount", "number", "Loan amount.", "amount"), _p("years", "integer", "Loan term in years.", "year")),
          (_t("Monthly payment for a loan of {amount} over {years} years?"), _t("I borrow {amount} for {years} years, what do I pay?"),
           _t("Loan payment: {amount} for {years} years."))),
    # calendar
    _Tool("create_event", "calendar", "Add an event to the calendar.", "create calendar events",
          (_p("title", "string", "Event title.", "event"), _p("day", "string", "Day of the week.", "day"),
           _p("time", "string", "Start time HH:MM.", "time", required=False)),
          (_t("Add {title} on {day} at {time}."), _t("Schedule {title} for {day}."), _t("Put {title} in my calendar on {day} at {time}."),
           _t("Create an event {title} on {day}."))),
    _Tool("list_events", "calendar", "Events on a given day.", "list calendar events",
          (_p("day", "string", "Day of the week.", "day"),),
          (_t("What's on my calendar on {day}?"), _t("Show my events for {day}."), _t("Am I busy on {day}?"))),
    _Tool("set_reminder", "calendar", "Reminder after some minutes.", "set reminders",
          (_p("text", "string", "Reminder text.", "text"), _p("minutes", "integer", "Minutes from now.", "minutes")),
          (_t("Remind me in {minutes} minutes: {text}."), _t("Set a reminder '{text}' in {minutes} minutes."),
           _t("In {minutes} minutes remind me {text}."))),
    _Tool("cancel_event", "calendar", "Remove an event from the calendar.", "cancel calendar events",
          (_p("title", "string", "Event title.", "event"),),
          (_t("Cancel my {title}."), _t("Remove {title} from my calendar."), _t("Delete the {title} event."))),
    # messaging
    _Tool("send_message", "messaging", "Send a text message.", "send text messages",
          (_p("contact", "string", "Recipient name.", "person"), _p("text", "string", "Message text.", "text")),
          (_t("Text {contact}: {text}."), _t("Send {contact} a message saying {text}."), _t("Message {contact} '{text}'."))),
    _Tool("send_email", "messaging", "Send an email.", "send emails",
          (_p("contact", "string", "Recipient name.", "person"), _p("subject", "string", "Subject line.", "subject"),
           _p("urgent", "boolean", "Mark as urgent.", required=False)),
          (_t("Email {contact} about the {subject}."), _t("Send an urgent email to {contact} about the {subject}.", urgent=True),
           _t("Write to {contact}, subject {subject}."), _t("Email {contact} re {subject}, not urgent.", urgent=False))),
    _Tool("call_contact", "messaging", "Start a phone call.", "make phone calls",
          (_p("contact", "string", "Person to call.", "person"),),
          (_t("Call {contact}."), _t("Phone {contact} for me."), _t("Can you ring {contact}?"))),
    _Tool("read_messages", "messaging", "Read received messages.", "read messages",
          (_p("unread_only", "boolean", "Only unread ones.", required=False),),
          (_t("Read my messages."), _t("Any unread messages?", unread_only=True), _t("Show only my unread messages.", unread_only=True),
           _t("Show all my messages, read ones too.", unread_only=False))),
    _Tool("translate_text", "messaging", "Translate a phrase.", "translate text",
          (_p("text", "string", "Text to translate.", "phrase"), _p("language", "string", "Target language.", "language")),
          (_t("Translate '{text}' into {language}."), _t("How do you say {text} in {language}?"), _t("{language} for '{text}'?"))),
    # math
    _Tool("add_numbers", "math", "Sum of two numbers.", "add numbers",
          (_p("a", "number", "First number.", "number"), _p("b", "number", "Second number.", "number")),
          (_t("What is {a} plus {b}?"), _t("Add {a} and {b}."), _t("Sum of {a} and {b}?"))),
    _Tool("multiply_numbers", "math", "Product of two numbers.", "multiply numbers",
          (_p("a", "number", "First number.", "number"), _p("b", "number", "Second number.", "number")),
          (_t("What is {a} times {b}?"), _t("Multiply {a} by {b}."), _t("Product of {a} and {b}?"))),
    _Tool("square_root", "math", "Square root of a number.", "take square roots",
          (_p("x", "number", "The number.", "number"),),
          (_t("Square root of {x}?"), _t("What is the square root of {x}?"), _t("Compute sqrt of {x}."))),
    _Tool("is_prime", "math", "Whether an integer is prime.", "test for primes",
          (_p("n", "integer", "The integer.", "number"),),
          (_t("Is {n} a prime number?"), _t("Check if {n} is prime."), _t("Is {n} prime?"))),
    _Tool("convert_units", "math", "Convert a length or weight.", "convert units",
          (_p("value", "number", "Value to convert.", "number"),
           _p("unit", "string", "Conversion.", enum=("km_to_miles", "miles_to_km", "kg_to_lb", "lb_to_kg"))),
          (_t("Convert {value} km to miles.", unit="km_to_miles"), _t("How many km is {value} miles?", unit="miles_to_km"),
           _t("{value} kg in pounds?", unit="kg_to_lb"), _t("Convert {value} lb to kg.", unit="lb_to_kg"))),
    # shopping
    _Tool("search_products", "shopping", "Search the shop.", "search for products",
          (_p("query", "string", "What to look for.", "product"), _p("max_price", "number", "Price limit.", "amount", required=False)),
          (_t("Find a {query}."), _t("Search for a {query} under {max_price}."), _t("Show me {query} deals below {max_price}."),
           _t("I want to buy a {query}."))),
    _Tool("add_to_cart", "shopping", "Add items to the cart.", "add items to a cart",
          (_p("product", "string", "Product name.", "product"), _p("quantity", "integer", "How many.", "small")),
          (_t("Add {quantity} {product} to my cart."), _t("Put {quantity} of the {product} in the basket."),
           _t("I'll take {quantity} {product}."))),
    _Tool("track_order", "shopping", "Status of an order.", "track orders",
          (_p("order_id", "string", "Order number.", "order"),),
          (_t("Where is my order {order_id}?"), _t("Track order {order_id}."), _t("Has order {order_id} shipped?"))),
)  # fmt: skip

_CHITCHAT: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Hi!", "Hello there.", "Hey!"), "Hello! How can I help you today?"),
    (("Thanks a lot!", "Thank you, that helped.", "Great, thanks!"), "You're welcome!"),
    (("Good morning.", "Morning!"), "Good morning! What can I do for you?"),
    (("Who are you?", "What are you?"), "I'm an assistant that can use tools to help you."),
    (("How are you?", "How is it going?"), "I'm doing well, thanks! How can I help?"),
    (("Bye for now.", "See you later!", "That's all, goodbye."), "Goodbye! Have a nice day."),
    (("Tell me a joke.", "Say something funny."), "I'm better at tasks than jokes, but I'm happy to help."),
)
_THINK_CALL = (
    "The user wants to {cap}: {tool} with {args}.",
    "{tool} can {cap}. Given {args}.",
    "Call {tool} with {args}.",
    "Need {tool}; the user gave {args}.",
    "To {cap}, use {tool}.",
    "{tool} fits: {args}.",
)
_THINK_PARALLEL = (
    "Two requests: {tool1} with {args1}, and {tool2} with {args2}.",
    "The user asks two things, so two calls: {tool1} and {tool2}.",
    "First {tool1} ({args1}), then {tool2} ({args2}).",
)
# think_style="fixed": five fixed phrasings that name neither the tool nor a value (the calibration's world in
# the demo docs): the <think> text is then easy to copy and tells RL nothing about the call.
_THINK_FIXED = (
    "I should use a tool for this.",
    "One of the listed tools can do this.",
    "This needs a tool call.",
    "Let me call the right tool.",
    "A tool can answer this.",
)
THINK_STYLES = ("varied", "fixed")
_THINK_CHAT = (
    "Just chatting; no tool needed.",
    "Small talk. I reply directly.",
    "No task here, so no tool.",
)
_THINK_UNSERVED = (
    "The user wants to {cap}, but no listed tool can.",
    "No tool here can {cap}.",
    "Nothing listed can {cap}; I say so.",
)
# Free-form, reward-irrelevant reasoning ("filler") for the long-reasoning regime: sentences built from a
# small grammar (about 10^5 distinct sentences), never mentioning the request's tools or values, so that a
# policy's <think> text is long, varied (high-entropy) and carries no reward signal, like a real LLM's.
_FILLER_OPEN = (
    "Hmm,", "Okay,", "Well,", "So,", "Right,", "Wait,", "Now,", "First,", "Actually,", "Alright,", "Let me see,",
    "Honestly,", "Then again,", "Still,", "Anyway,", "In short,",
)  # fmt: skip
_FILLER_SUBJECT = (
    "the request", "this message", "the wording", "the question", "it", "the user", "this one", "the phrasing",
    "the context", "the task", "the ask", "that part",
)  # fmt: skip
_FILLER_VERB = (
    "seems to need", "probably wants", "might involve", "could point to", "should lead to", "looks like",
    "reminds me of", "hints at", "asks for", "clearly means", "may call for", "suggests",
)  # fmt: skip
_FILLER_OBJECT = (
    "a quick lookup", "one of the listed options", "a simple step", "some care", "the obvious choice",
    "a direct answer", "a small detail", "the usual approach", "a second look", "nothing unusual",
    "a careful reading", "the plain meaning",
)  # fmt: skip
_FILLER_TAIL = (
    "here.", "for now.", "in this case.", "I think.", "as usual.", "again.", "after all.", "to be safe.",
    "more or less.", "if anything.", "on balance.", "as far as I can tell.",
)  # fmt: skip
_FILLER_LOW = (
    "Let me think about this.",
    "I will check the request.",
    "This should be simple.",
)
FILLER_ENTROPY = ("high", "low")


def filler_sentences(rng: random.Random, n: int, entropy: str = "high") -> str:
    """``n`` sentences of reward-irrelevant reasoning: drawn from a ~10^5-sentence grammar (``"high"``) or
    from three fixed sentences (``"low"``)."""
    if entropy == "low":
        return " ".join(rng.choice(_FILLER_LOW) for _ in range(n))
    return " ".join(
        f"{rng.choice(_FILLER_OPEN)} {rng.choice(_FILLER_SUBJECT)} {rng.choice(_FILLER_VERB)} "
        f"{rng.choice(_FILLER_OBJECT)} {rng.choice(_FILLER_TAIL)}"
        for _ in range(n)
    )


_RESPONSE_UNSERVED = (
    "Sorry, none of my tools can {cap}.",
    "I can't {cap} with the tools I have.",
)


# ------------------------------------------------------------------------------------------------
# Config and world
# ------------------------------------------------------------------------------------------------


@dataclass
class SyntheticConfig:
    """Knobs of the synthetic tool world. Same config, same examples."""

    seed: int = field(default=0, metadata={"help": "Seed of the world: held-out values and every split's draw."})
    tools_per_prompt: int = field(
        default=3, metadata={"help": "Tools listed in a prompt, needed tools and distractors together."}
    )
    min_distractors: int = field(
        default=1, metadata={"help": "At least this many distractor tools, even if it exceeds tools_per_prompt."}
    )
    p_parallel: float = field(
        default=0.15,
        metadata={"help": "Probability that an example with calls asks for two (one block, two calls)."},
    )
    p_no_call: float = field(default=0.1, metadata={"help": "Probability that the gold makes no call (response only)."})
    p_chitchat: float = field(
        default=0.5,
        metadata={"help": "Among no-call examples: share of chit-chat; the rest ask for something no listed tool can do."},
    )
    difficulty: str = field(
        default="medium",
        metadata={
            "help": "Distractor choice: 'easy' = other domains only, 'medium' = any tool, "
            "'hard' = same domain as the needed tool first (confusable tools)."
        },
    )
    heldout_fraction: float = field(
        default=0.25, metadata={"help": "Share of every slot-value pool used only by the novel split."}
    )
    domains: tuple[str, ...] | None = field(
        default=None, metadata={"help": "Restrict the world to these domains (None = all seven)."}
    )
    with_think: bool = field(default=True, metadata={"help": "Give gold answers a <think> text."})
    think_style: str = field(
        default="varied",
        metadata={
            "help": "'varied' = call thoughts in several phrasings that restate the tool and slot values (today's "
            "world); 'fixed' = five fixed phrasings naming neither (chit-chat and unserved thoughts unchanged). "
            "Requests, tool lists and gold calls are the same for both."
        },
    )
    think_filler: int = field(
        default=0,
        metadata={
            "help": "Long-reasoning regime: add between think_filler // 2 and think_filler sentences of free-form, "
            "reward-irrelevant reasoning before each <think> text (0 = today's short thoughts). Drawn from their "
            "own random stream: every request, tool list and gold call is the same as with 0."
        },
    )
    think_filler_entropy: str = field(
        default="high",
        metadata={"help": "Filler vocabulary: 'high' (a grammar of ~10^5 sentences) or 'low' (three fixed sentences)."},
    )
    n_train: int = field(default=5000, metadata={"help": "Examples in the train split (make_splits)."})
    n_validation: int = field(default=200, metadata={"help": "Examples in the validation split (make_splits)."})
    n_test: int = field(default=200, metadata={"help": "Examples in the test split (make_splits)."})
    n_novel: int = field(
        default=200, metadata={"help": "Examples in the novel split (held-out slot values; make_splits)."}
    )

    def __post_init__(self) -> None:
        for name in ("p_parallel", "p_no_call", "p_chitchat", "heldout_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if not 0.0 < self.heldout_fraction < 1.0:
            raise ValueError("heldout_fraction must be strictly between 0 and 1")
        if self.difficulty not in ("easy", "medium", "hard"):
            raise ValueError(f"difficulty must be 'easy', 'medium' or 'hard', got {self.difficulty!r}")
        for name in ("n_train", "n_validation", "n_test", "n_novel"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.think_style not in THINK_STYLES:
            raise ValueError(f"think_style must be one of {THINK_STYLES}, got {self.think_style!r}")
        if self.think_filler < 0:
            raise ValueError(f"think_filler must be >= 0, got {self.think_filler}")
        if self.think_filler_entropy not in FILLER_ENTROPY:
            raise ValueError(f"think_filler_entropy must be one of {FILLER_ENTROPY}, got {self.think_filler_entropy!r}")
        if self.tools_per_prompt < 1 or self.min_distractors < 0:
            raise ValueError("tools_per_prompt must be >= 1 and min_distractors >= 0")
        if self.domains is not None:
            self.domains = tuple(self.domains)
            unknown = set(self.domains) - {t.domain for t in _CATALOGUE}
            if unknown:
                raise ValueError(f"unknown domains {sorted(unknown)}")


def _tool_dict(tool: _Tool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for p in tool.params:
        prop: dict[str, Any] = {"type": p.type, "description": p.description}
        if p.enum:
            prop["enum"] = list(p.enum)
        properties[p.name] = prop
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": [p.name for p in tool.params if p.required],
        },
    }


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _args_text(args: Mapping[str, Any]) -> str:
    if not args:
        return "no arguments"
    return ", ".join(f"{k} {_format_value(v)}" for k, v in args.items())


def validate_call(call: ToolCall, tool: Mapping[str, Any]) -> list[str]:
    """Problems of ``call`` against a JSON-schema tool (name, required, unknown keys, types, enums).

    Returns an empty list for a valid call.
    """
    problems = []
    if call.name != tool["name"]:
        problems.append(f"name {call.name!r} != {tool['name']!r}")
    schema = tool["parameters"]
    props = schema["properties"]
    for key in schema.get("required", []):
        if key not in call.arguments:
            problems.append(f"missing required {key!r}")
    for key, value in call.arguments.items():
        if key not in props:
            problems.append(f"unknown parameter {key!r}")
            continue
        prop = props[key]
        kind = prop.get("type")
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
        }.get(kind, True)
        if not ok:
            problems.append(f"{key}={value!r} is not {kind}")
        if "enum" in prop and value not in prop["enum"]:
            problems.append(f"{key}={value!r} not in {prop['enum']}")
    return problems


class SyntheticWorld:
    """The tools and the generator of examples for one :class:`SyntheticConfig`."""

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config or SyntheticConfig()
        domains = self.config.domains
        self._specs = tuple(t for t in _CATALOGUE if domains is None or t.domain in domains)
        self._by_name = {t.name: t for t in self._specs}
        self.tools: list[dict[str, Any]] = [_tool_dict(t) for t in self._specs]
        self._tool_dicts = {t["name"]: t for t in self.tools}
        rng = random.Random(f"heldout:{self.config.seed}")
        self._heldout: dict[str, frozenset[Any]] = {}
        for pool, values in _POOLS.items():
            shuffled = list(values)
            rng.shuffle(shuffled)
            k = min(len(values) - 1, max(1, round(len(values) * self.config.heldout_fraction)))
            self._heldout[pool] = frozenset(shuffled[:k])
        self._values = {
            split: {
                pool: tuple(v for v in values if (v in self._heldout[pool]) == (split == "novel"))
                for pool, values in _POOLS.items()
            }
            for split in SPLITS
        }

    # -- public views ------------------------------------------------------------------------

    @property
    def domains(self) -> list[str]:
        return sorted({t.domain for t in self._specs})

    def heldout_values(self) -> dict[str, frozenset[Any]]:
        """Per value pool, the values only the novel split uses."""
        return dict(self._heldout)

    def tool(self, name: str) -> dict[str, Any]:
        """The tool dict (JSON-schema parameters) named ``name``."""
        return self._tool_dicts[name]

    def slot_pools(self, tool_name: str) -> dict[str, str]:
        """``{parameter: value pool}`` for the free-valued parameters of a tool."""
        return {p.name: p.pool for p in self._by_name[tool_name].params if p.pool}

    # -- generation --------------------------------------------------------------------------

    def _request(self, rng: random.Random, spec: _Tool, split: str) -> tuple[str, dict[str, Any]]:
        template = rng.choice(spec.templates)
        fixed = dict(template.fixed)
        args: dict[str, Any] = {}
        used: dict[str, set[Any]] = {}
        fills: dict[str, str] = {}
        for p in spec.params:
            slot = "{" + p.name + "}"
            if p.name in fixed:
                args[p.name] = fixed[p.name]
            elif slot in template.text:
                if p.enum:
                    value: Any = rng.choice(p.enum)
                else:
                    assert p.pool is not None
                    seen = used.setdefault(p.pool, set())
                    choices = [v for v in self._values[split][p.pool] if v not in seen] or list(self._values[split][p.pool])
                    value = rng.choice(choices)
                    seen.add(value)
                args[p.name] = value
                fills[p.name] = _format_value(value)
            elif p.required:  # the catalogue guarantees this never happens
                raise AssertionError(f"template {template.text!r} misses required {p.name!r}")
        text = template.text
        for name, surface in fills.items():
            text = text.replace("{" + name + "}", surface)
        return text, args

    def _pick_tools(self, rng: random.Random, needed: list[_Tool], excluded_domains: set[str]) -> list[dict[str, Any]]:
        cfg = self.config
        n_distract = max(cfg.tools_per_prompt - len(needed), cfg.min_distractors)
        names = {t.name for t in needed}
        others = [t for t in self._specs if t.name not in names and t.domain not in excluded_domains]
        needed_domains = {t.domain for t in needed}
        if cfg.difficulty == "easy":
            pool = [t for t in others if t.domain not in needed_domains] or others
            chosen = rng.sample(pool, min(n_distract, len(pool)))
        elif cfg.difficulty == "hard":
            near = [t for t in others if t.domain in needed_domains]
            far = [t for t in others if t.domain not in needed_domains]
            rng.shuffle(near)
            rng.shuffle(far)
            chosen = (near + far)[:n_distract]
        else:
            chosen = rng.sample(others, min(n_distract, len(others)))
        listed = [self._tool_dicts[t.name] for t in list(needed) + chosen]
        rng.shuffle(listed)
        return listed

    def _think(
        self, rng: random.Random, phrasings: tuple[str, ...], filler: random.Random | None = None, **slots: str
    ) -> str | None:
        if not self.config.with_think:
            return None
        template = rng.choice(phrasings)
        if self.config.think_style == "fixed" and phrasings in (_THINK_CALL, _THINK_PARALLEL):
            # Same draw from rng as "varied" (so every later draw is unchanged), mapped to a fixed phrasing.
            template = _THINK_FIXED[phrasings.index(template) % len(_THINK_FIXED)]
        text = template.format(**slots)
        if filler is not None:
            cfg = self.config
            n = filler.randint(cfg.think_filler // 2, cfg.think_filler)
            if n:
                text = filler_sentences(filler, n, cfg.think_filler_entropy) + " " + text
        return text

    def example(self, rng: random.Random, split: str, index: int, tag: str) -> ToolExample:
        """One example drawn with ``rng`` (see :meth:`sample`)."""
        cfg = self.config
        # The filler's own stream: the main draws (request, tools, gold) do not depend on think_filler.
        filler = random.Random(f"filler:{tag}:{index}") if cfg.think_filler else None
        meta: dict[str, Any] = {"split": split, "difficulty": cfg.difficulty}
        example_id = f"synthetic-{tag}-{index}"
        if rng.random() < cfg.p_no_call:
            if rng.random() < cfg.p_chitchat:
                utterances, reply = rng.choice(_CHITCHAT)
                tools = self._pick_tools(rng, [], set())
                meta["kind"] = "chitchat"
                return ToolExample(
                    id=example_id, source="synthetic", tools=tools,
                    messages=[{"role": "user", "content": rng.choice(utterances)}],
                    gold_response=reply, gold_think=self._think(rng, _THINK_CHAT, filler), meta=meta,
                )  # fmt: skip
            spec = rng.choice(self._specs)
            text, _ = self._request(rng, spec, split)
            tools = self._pick_tools(rng, [], {spec.domain})  # nothing that could serve it
            meta.update(kind="unserved", wanted=spec.name)
            return ToolExample(
                id=example_id, source="synthetic", tools=tools,
                messages=[{"role": "user", "content": text}],
                gold_response=rng.choice(_RESPONSE_UNSERVED).format(cap=spec.capability),
                gold_think=self._think(rng, _THINK_UNSERVED, filler, cap=spec.capability), meta=meta,
            )  # fmt: skip
        if rng.random() < cfg.p_parallel:
            first, second = rng.choice(self._specs), rng.choice(self._specs)
            text1, args1 = self._request(rng, first, split)
            text2, args2 = self._request(rng, second, split)
            for _ in range(20):  # two identical calls would say nothing
                if second.name != first.name or args2 != args1:
                    break
                text2, args2 = self._request(rng, second, split)
            joiner = rng.choice((" Also, ", " And ", " Then "))
            if text2[0].isupper() and not text2.split(" ", 1)[0].isupper() and text2.split(" ", 1)[0] not in _PROPER:
                text2 = text2[0].lower() + text2[1:]
            request = text1 + joiner + text2
            needed = [first] if first.name == second.name else [first, second]
            meta.update(kind="parallel")
            return ToolExample(
                id=example_id, source="synthetic", tools=self._pick_tools(rng, needed, set()),
                messages=[{"role": "user", "content": request}],
                gold_calls=[ToolCall(first.name, args1), ToolCall(second.name, args2)],
                gold_think=self._think(
                    rng, _THINK_PARALLEL, filler, cap1=first.capability, cap2=second.capability,
                    tool1=first.name, tool2=second.name, args1=_args_text(args1), args2=_args_text(args2),
                ),
                meta=meta,
            )  # fmt: skip
        spec = rng.choice(self._specs)
        text, args = self._request(rng, spec, split)
        meta.update(kind="single")
        return ToolExample(
            id=example_id, source="synthetic", tools=self._pick_tools(rng, [spec], set()),
            messages=[{"role": "user", "content": text}],
            gold_calls=[ToolCall(spec.name, args)],
            gold_think=self._think(rng, _THINK_CALL, filler, cap=spec.capability, tool=spec.name, args=_args_text(args)),
            meta=meta,
        )  # fmt: skip

    def sample(self, n: int, split: str = "train", seed: int = 0) -> list[ToolExample]:
        """``n`` examples of ``split`` (``novel`` uses the held-out slot values, the other splits the
        rest). Deterministic in ``(config.seed, split, seed)``. Unlike :func:`make_splits`, prompts
        may repeat across splits."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        tag = f"{split}-{self.config.seed}-{seed}"
        rng = random.Random(f"sample:{tag}")
        return [self.example(rng, split, i, tag) for i in range(n)]


def _prompt_key(example: ToolExample) -> tuple[str, str]:
    return (example.messages[-1]["content"], "|".join(t["name"] for t in example.tools))


def make_splits(config: SyntheticConfig | None = None) -> dict[str, list[ToolExample]]:
    """``{"train", "validation", "test", "novel"}`` with ``config.n_*`` examples each.

    Validation and test examples never repeat a train prompt (same request and tool list) or one
    another; novel examples use held-out slot values only.
    """
    config = config or SyntheticConfig()
    world = SyntheticWorld(config)
    train = world.sample(config.n_train, "train", seed=0)
    seen = {_prompt_key(ex) for ex in train}
    splits: dict[str, list[ToolExample]] = {"train": train}
    for split in ("validation", "test"):
        wanted = getattr(config, f"n_{split}")
        fresh: list[ToolExample] = []
        rng = random.Random(f"sample:{split}-{config.seed}")
        index = 0
        while len(fresh) < wanted and index < 50 * max(1, wanted):
            ex = world.example(rng, split, index, f"{split}-{config.seed}")
            index += 1
            if _prompt_key(ex) not in seen:
                seen.add(_prompt_key(ex))
                fresh.append(ex)
        splits[split] = fresh
    splits["novel"] = world.sample(config.n_novel, "novel", seed=0)
    return splits


def corpus_texts(
    config: SyntheticConfig | None = None,
    *,
    examples: Iterable[ToolExample] | None = None,
    style: str = "compact",
    n: int | None = None,
) -> list[str]:
    """Prompt + gold texts (system, user, gold joined by newlines) for training a tokenizer.

    By default the train split of ``config`` (``n`` examples, default ``config.n_train``): the
    held-out (novel) values are deliberately absent, as they would be for a real tokenizer.
    """
    from rest_rl.data.prompting import to_prompt_messages

    if examples is None:
        config = config or SyntheticConfig()
        examples = SyntheticWorld(config).sample(config.n_train if n is None else n, "train", seed=0)
    texts = []
    for ex in examples:
        prompt = to_prompt_messages(ex, style=style)
        texts.append("\n".join([*(m["content"] for m in prompt), ex.gold_text("toolrl")]))
    return texts
