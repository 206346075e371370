"""Word lists the analyzer and the sentence splitter use: data, kept apart so the analyzer reads as code.

- ``STOPWORDS``: NLTK 3.9's English stopword list (``nltk.corpus.stopwords.words("english")``, 179 words, in
  NLTK's order as ``NLTK_STOPWORDS``), kept here so that no corpus download is needed and the analysis never
  changes under a user's feet, less the contraction stubs it holds (``won``, ``don``, ``ma``, ``shan``...): our
  tokens keep "won't" whole, so a stub alone is a real word ("Who won?", Don, Jack Ma, Shan state).
- ``IRREGULAR_VERBS``: past and third-person forms that Snowball leaves apart from their base form. News reports
  in the past tense ("Turkey said") while questions ask in the present ("What did Turkey say?").
- ``COUNTRIES``: the names of the world's countries as news writes them (short forms and common abbreviations
  too: "the U.S.", "Britain", "the UAE"), for questions that ask which countries.
- ``NEWS_ABBREVIATIONS``: abbreviations that end with a dot but rarely end a sentence in news text (lower case,
  without the final dot), added to what Punkt learns from the corpus.
"""

from __future__ import annotations

__all__ = ["CONTRACTION_STUBS", "COUNTRIES", "IRREGULAR_VERBS", "NEWS_ABBREVIATIONS", "NLTK_STOPWORDS", "STOPWORDS"]

# A string split into words reads as the list it is; one word per line would bury it.
NLTK_STOPWORDS = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him
    his himself she she's her hers herself it it's its itself they them their theirs themselves what which who
    whom this that that'll these those am is are was were be been being have has had having do does did doing a
    an the and but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here there when
    where why how all any both each few more most other some such no nor not only own same so than too very s t
    can will just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't
    doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't
    shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
    """.split()  # noqa: SIM905
)

CONTRACTION_STUBS = frozenset(
    """
    ain aren couldn didn doesn don hadn hasn haven isn ll ma mightn mustn needn re shan shouldn ve wasn weren won
    wouldn
    """.split()  # noqa: SIM905
)
STOPWORDS = NLTK_STOPWORDS - CONTRACTION_STUBS

IRREGULAR_VERBS = {
    "said": "say",
    "says": "say",
    "told": "tell",
    "tells": "tell",
    "went": "go",
    "gone": "go",
    "goes": "go",
    "made": "make",
    "took": "take",
    "taken": "take",
    "gave": "give",
    "given": "give",
    "came": "come",
    "found": "find",
    "thought": "think",
    "saw": "see",
    "seen": "see",
    "held": "hold",
    "sold": "sell",
    "bought": "buy",
    "began": "begin",
    "begun": "begin",
    "met": "meet",
    "paid": "pay",
    "led": "lead",
    "ran": "run",
    "spoke": "speak",
    "spoken": "speak",
    "wrote": "write",
    "written": "write",
    "fell": "fall",
    "fallen": "fall",
    "rose": "rise",
    "risen": "rise",
    "grew": "grow",
    "grown": "grow",
    "fought": "fight",
    "built": "build",
    "sent": "send",
    "spent": "spend",
    "lost": "lose",
    "kept": "keep",
    "brought": "bring",
    "chose": "choose",
    "chosen": "choose",
    "struck": "strike",
    "stole": "steal",
    "stolen": "steal",
    "shot": "shoot",
    "flew": "fly",
    "flown": "fly",
    "drove": "drive",
    "driven": "drive",
    "knew": "know",
    "known": "know",
    "became": "become",
    "felt": "feel",
    "heard": "hear",
    "meant": "mean",
    "won": "win",
    "sought": "seek",
    "caught": "catch",
    "taught": "teach",
    "froze": "freeze",
    "frozen": "freeze",
}

# Names whose Snowball stem is a common word's stem, kept as written so they do not meet it: "France" would
# match "francs", "United (States)" every "unit" of a company, "AIDS" foreign "aid". Found by listing the words
# of Reuters-21578 that are capitalised mid-sentence 95% of the time and share a stem with a lower-case word.
NAMES_KEPT_WHOLE = frozenset({"france", "united", "aids"})

NEWS_ABBREVIATIONS = frozenset(
    """
    u.s u.k u.n e.u mr mrs ms dr prof gen lt col maj capt sgt adm cmdr gov sen rep rev st jr sr co corp inc ltd
    bros dept est jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun no vol p.m a.m
    e.g i.e vs etc approx fig ft mt pres govt natl intl assn
    """.split()  # noqa: SIM905
)

# UN members and observers, Taiwan and Kosovo, by the names and abbreviations news uses ("|"-separated: several
# names have spaces). Matched case-sensitively, as written.
COUNTRIES = tuple(
    " ".join(name.split())
    for name in """
    Afghanistan|Albania|Algeria|Andorra|Angola|Antigua and Barbuda|Argentina|Armenia|Australia|Austria|Azerbaijan
    |Bahamas|Bahrain|Bangladesh|Barbados|Belarus|Belgium|Belize|Benin|Bhutan|Bolivia|Bosnia and Herzegovina|Bosnia
    |Botswana|Brazil|Brunei|Bulgaria|Burkina Faso|Burundi|Cambodia|Cameroon|Canada|Cape Verde|Central African
    Republic|Chad|Chile|China|Colombia|Comoros|Congo|Costa Rica|Ivory Coast|Croatia|Cuba|Cyprus|Czech Republic
    |Czechia|Denmark|Djibouti|Dominica|Dominican Republic|Ecuador|Egypt|El Salvador|Equatorial Guinea|Eritrea
    |Estonia|Eswatini|Ethiopia|Fiji|Finland|France|Gabon|Gambia|Georgia|Germany|Ghana|Greece|Grenada|Guatemala
    |Guinea|Guinea-Bissau|Guyana|Haiti|Honduras|Hungary|Iceland|India|Indonesia|Iran|Iraq|Ireland|Israel|Italy
    |Jamaica|Japan|Jordan|Kazakhstan|Kenya|Kiribati|Kosovo|Kuwait|Kyrgyzstan|Laos|Latvia|Lebanon|Lesotho|Liberia
    |Libya|Liechtenstein|Lithuania|Luxembourg|Madagascar|Malawi|Malaysia|Maldives|Mali|Malta|Marshall Islands
    |Mauritania|Mauritius|Mexico|Micronesia|Moldova|Monaco|Mongolia|Montenegro|Morocco|Mozambique|Myanmar|Burma
    |Namibia|Nauru|Nepal|Netherlands|Holland|New Zealand|Nicaragua|Niger|Nigeria|North Korea|North Macedonia
    |Norway|Oman|Pakistan|Palau|Palestine|Panama|Papua New Guinea|Paraguay|Peru|Philippines|Poland|Portugal|Qatar
    |Romania|Russia|Rwanda|Saint Lucia|Samoa|San Marino|Saudi Arabia|Senegal|Serbia|Seychelles|Sierra Leone
    |Singapore|Slovakia|Slovenia|Solomon Islands|Somalia|South Africa|South Korea|Korea|South Sudan|Spain
    |Sri Lanka|Sudan|Suriname|Sweden|Switzerland|Syria|Taiwan|Tajikistan|Tanzania|Thailand|Timor-Leste|Togo|Tonga
    |Trinidad and Tobago|Tunisia|Turkey|Turkmenistan|Tuvalu|Uganda|Ukraine|United Arab Emirates|UAE|U.A.E.
    |United Kingdom|UK|U.K.|Britain|Great Britain|United States|US|U.S.|USA|America|Uruguay|Uzbekistan|Vanuatu
    |Vatican|Venezuela|Vietnam|Yemen|Zambia|Zimbabwe
    """.replace("\n", " ").split("|")
    if name.strip()
)
