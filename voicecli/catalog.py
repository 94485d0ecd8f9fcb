"""What the Live API offers: models, voices and languages, kept in one place.

Models change often, so ``--model`` accepts any string; this table only adds what we know
about the well-known ones (used for defaults, validation hints and ``voicecli models``).
Nothing here imports the SDK: the catalog commands must start instantly.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

DEFAULT_MODEL = "gemini-3.8-live"
TRANSLATE_MODEL = "gemini-3.5-live-translate-preview"


# Live settings (voicecli.settings.LiveOptions) a conversational model takes.
CONVERSATION_SETTINGS = frozenset({"vad", "interruption", "turn_coverage", "temperature"})


@dataclass(frozen=True)
class ModelInfo:
    """What one Live model supports.

    ``settings``: which of the Live settings it takes (``vad``: the automatic activity
    detection options; ``interruption``: ``activity_handling``; ``turn_coverage``;
    ``temperature``). ``proactive_audio``: ``always`` (on, cannot be turned off),
    ``optional`` or ``no``. ``async_tools``: function calls do not block the conversation,
    and a response says when the model should speak of it (``scheduling``).
    ``tools_mid_session``: tools can be declared anew mid-session (a context update).
    """

    id: str
    summary: str
    tools: bool = True
    system_instruction: bool = True
    thinking_levels: tuple[str, ...] = ()
    affective_dialog: bool = False
    proactive_audio: str = "no"
    translation: bool = False
    mid_session_text: bool = True
    vertex: bool = False
    settings: frozenset[str] = CONVERSATION_SETTINGS
    search: bool = True
    video: bool = True  # takes screen or camera frames
    async_tools: bool = False
    tools_mid_session: bool = False


MODELS: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        ModelInfo(DEFAULT_MODEL, "conversation (Gemini API default), async function calls",
                  proactive_audio="always", vertex=True, async_tools=True,
                  tools_mid_session=True),
        ModelInfo("gemini-3.8-live-extended-thinking", "conversation with extended thinking",
                  thinking_levels=("low", "medium", "high"), proactive_audio="always",
                  async_tools=True, tools_mid_session=True),
        ModelInfo("gemini-3.1-flash-live-preview", "previous preview",
                  mid_session_text=False),
        ModelInfo("gemini-2.5-flash-native-audio-preview-12-2025", "previous native audio preview",
                  affective_dialog=True, proactive_audio="optional", async_tools=True),
        ModelInfo("gemini-live-2.5-flash-native-audio", "Vertex AI GA native audio",
                  affective_dialog=True, proactive_audio="optional", vertex=True,
                  async_tools=True),
        ModelInfo(TRANSLATE_MODEL, "live speech-to-speech translation", tools=False,
                  system_instruction=False, translation=True, mid_session_text=False,
                  settings=frozenset({"vad"}), search=False, video=False),
    )
}

# The 30 prebuilt voices and their documented styles.
VOICES: dict[str, str] = {
    "Zephyr": "Bright", "Puck": "Upbeat", "Charon": "Informative", "Kore": "Firm",
    "Fenrir": "Excitable", "Leda": "Youthful", "Orus": "Firm", "Aoede": "Breezy",
    "Callirrhoe": "Easy-going", "Autonoe": "Bright", "Enceladus": "Breathy",
    "Iapetus": "Clear", "Umbriel": "Easy-going", "Algieba": "Smooth", "Despina": "Smooth",
    "Erinome": "Clear", "Algenib": "Gravelly", "Rasalgethi": "Informative",
    "Laomedeia": "Upbeat", "Achernar": "Soft", "Alnilam": "Firm", "Schedar": "Even",
    "Gacrux": "Mature", "Pulcherrima": "Forward", "Achird": "Friendly",
    "Zubenelgenubi": "Casual", "Vindemiatrix": "Gentle", "Sadachbia": "Lively",
    "Sadaltager": "Knowledgeable", "Sulafat": "Warm",
}
DEFAULT_VOICE = "Puck"

# BCP-47 codes the Live API documents for speech output.
LANGUAGES: dict[str, str] = {
    "ar-XA": "Arabic", "bn-IN": "Bengali (India)", "cmn-CN": "Mandarin Chinese",
    "de-DE": "German (Germany)", "en-AU": "English (Australia)", "en-GB": "English (UK)",
    "en-IN": "English (India)", "en-US": "English (US)", "es-ES": "Spanish (Spain)",
    "es-US": "Spanish (US)", "fr-CA": "French (Canada)", "fr-FR": "French (France)",
    "gu-IN": "Gujarati (India)", "hi-IN": "Hindi (India)", "id-ID": "Indonesian",
    "it-IT": "Italian", "ja-JP": "Japanese", "kn-IN": "Kannada (India)", "ko-KR": "Korean",
    "ml-IN": "Malayalam (India)", "mr-IN": "Marathi (India)", "nl-NL": "Dutch",
    "pl-PL": "Polish", "pt-BR": "Portuguese (Brazil)", "ru-RU": "Russian",
    "ta-IN": "Tamil (India)", "te-IN": "Telugu (India)", "th-TH": "Thai", "tr-TR": "Turkish",
    "vi-VN": "Vietnamese",
}


def models_with(test: str) -> list[str]:
    """Ids of the known models for which ``test`` (a ModelInfo attribute) is true-ish."""
    return [m.id for m in MODELS.values()
            if getattr(m, test) not in (False, (), "no", None)]


def model_info(model: str) -> ModelInfo | None:
    """Return what we know about ``model`` (with or without a ``models/`` prefix)."""
    return MODELS.get(model.removeprefix("models/").rsplit("/", 1)[-1])


def _did_you_mean(value: str, choices: list[str]) -> str:
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return f" Did you mean {lowered[close[0]]!r}?" if close else ""


def resolve_voice(name: str) -> str:
    """Return the canonical voice name for ``name`` (case-insensitive).

    Raises ValueError with a did-you-mean and the valid names.
    """
    for voice in VOICES:
        if voice.lower() == name.strip().lower():
            return voice
    raise ValueError(
        f"unknown voice {name!r}.{_did_you_mean(name, list(VOICES))} "
        f"Valid voices: {', '.join(VOICES)}"
    )


def resolve_language(code: str) -> str:
    """Return the canonical BCP-47 code for ``code`` (case-insensitive, ``_`` allowed).

    Raises ValueError with a did-you-mean and the valid codes.
    """
    wanted = code.strip().replace("_", "-").lower()
    for lang in LANGUAGES:
        if lang.lower() == wanted:
            return lang
    raise ValueError(
        f"unknown language {code!r}.{_did_you_mean(wanted, list(LANGUAGES))} "
        f"Valid languages: {', '.join(LANGUAGES)}"
    )


# Target languages of the translate model (``TranslationConfig.target_language_code``):
# base BCP-47 codes. A regional form (``de-DE``, ``pt-BR``) is accepted when its base is here.
TRANSLATE_LANGUAGES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "az": "Azerbaijani",
    "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "bs": "Bosnian", "ca": "Catalan",
    "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fil": "Filipino", "fr": "French", "ga": "Irish", "gl": "Galician",
    "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "jv": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "lo": "Lao", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian",
    "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "my": "Burmese",
    "ne": "Nepali", "nl": "Dutch", "no": "Norwegian", "pa": "Punjabi", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "si": "Sinhala", "sk": "Slovak",
    "sl": "Slovenian", "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian",
    "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese", "zh": "Chinese", "zu": "Zulu",
}


# ISO 639-2 (bibliographic and terminology) and 639-3 codes of the translation languages.
ISO639_3: dict[str, str] = {
    "afr": "af", "amh": "am", "ara": "ar", "arb": "ar", "aze": "az", "azj": "az",
    "bel": "be", "bul": "bg", "ben": "bn", "bos": "bs", "cat": "ca", "ces": "cs", "cze": "cs",
    "cym": "cy", "wel": "cy", "dan": "da", "deu": "de", "ger": "de", "ell": "el", "gre": "el",
    "eng": "en", "spa": "es", "est": "et", "ekk": "et", "eus": "eu", "baq": "eu",
    "fas": "fa", "per": "fa", "pes": "fa", "fin": "fi", "fra": "fr", "fre": "fr",
    "gle": "ga", "glg": "gl", "guj": "gu", "heb": "he", "hin": "hi", "hrv": "hr",
    "hun": "hu", "hye": "hy", "arm": "hy", "ind": "id", "isl": "is", "ice": "is",
    "ita": "it", "jpn": "ja", "jav": "jv", "kat": "ka", "geo": "ka", "kaz": "kk",
    "khm": "km", "kan": "kn", "kor": "ko", "lao": "lo", "lit": "lt", "lav": "lv",
    "lvs": "lv", "mkd": "mk", "mac": "mk", "mal": "ml", "mon": "mn", "khk": "mn",
    "mar": "mr", "msa": "ms", "may": "ms", "zsm": "ms", "mya": "my", "bur": "my",
    "nep": "ne", "npi": "ne", "nld": "nl", "dut": "nl", "nor": "no", "nob": "no",
    "pan": "pa", "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru",
    "sin": "si", "slk": "sk", "slo": "sk", "slv": "sl", "sqi": "sq", "alb": "sq",
    "als": "sq", "srp": "sr", "swe": "sv", "swa": "sw", "swh": "sw", "tam": "ta",
    "tel": "te", "tha": "th", "tur": "tr", "ukr": "uk", "urd": "ur", "uzb": "uz",
    "uzn": "uz", "vie": "vi", "zho": "zh", "chi": "zh", "cmn": "zh", "zul": "zu",
    "tgl": "fil",
}


def resolve_translate_language(code: str) -> str:
    """Canonical form of a translation language: ``de``, ``DE``, ``deu`` → ``de``;
    ``de_de`` → ``de-DE``.

    The base language must be one the translate model supports; a region (two letters or
    three digits, e.g. ``es-419``) may follow. Raises ValueError with a did-you-mean.
    """
    wanted = code.strip().replace("_", "-")
    base, _, region = wanted.partition("-")
    base = base.lower()
    base = ISO639_3.get(base, base)  # deu, ger -> de
    region_ok = region == "" or (len(region) == 2 and region.isalpha()) \
        or (len(region) == 3 and region.isdigit())
    if base in TRANSLATE_LANGUAGES and region_ok:
        return f"{base}-{region.upper()}" if region else base
    # Suggest from names first ("german", "Germna" → 'de'), then from codes ("dee" → 'de').
    by_name = {name.lower(): c for c, name in TRANSLATE_LANGUAGES.items()}
    close = difflib.get_close_matches(wanted.lower(), list(by_name), n=1, cutoff=0.7)
    if close:
        hint = f" Did you mean {by_name[close[0]]!r} ({TRANSLATE_LANGUAGES[by_name[close[0]]]})?"
    else:
        hint = _did_you_mean(base, list(TRANSLATE_LANGUAGES))
    raise ValueError(f"unknown translation language {code!r}.{hint} "
                     "See 'voicecli languages --translate' for the list")


def language_name(code: str) -> str:
    """A readable name for a translation language code (``de-AT`` → ``German (AT)``)."""
    base, _, region = code.partition("-")
    name = TRANSLATE_LANGUAGES.get(base.lower(), code)
    return f"{name} ({region})" if region else name
