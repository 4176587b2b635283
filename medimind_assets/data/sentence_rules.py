"""Boilerplate families that live in single sentences, list items or lines of an answer, written as families of
text (what a sentence *does*), not as the strings of one source page, so that they hold on collections no rule was
written from. Each family drops whole segments (`data/segments.py`) and keeps every other character; the families,
with examples, are listed in `docs/dataset.md`. Contact details stay in a sentence that tells the reader to get
urgent help ("call Poison Control at 1-800-222-1222"): that is answer content. What closes an answer is also put
to a learned model (`data/notice_model.py`), for notices in wordings no family names.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from medimind_assets.data.notice_model import is_page_notice
from medimind_assets.data.safety import advises_urgent_care
from medimind_assets.data.segments import Segment, drop_segments, split_segments


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_CREDITS = _rx(
    r"\b(?:editorial (?:team|staff|board|director)|(?:also )?reviewed by|review provided by|updated by|"
    r"medically reviewed|medical reviewers?|last (?:reviewed|updated|revised|modified)|page (?:last )?(?:updated|reviewed)|"
    r"next review (?:due|date)|"
    r"accredited by|content provided by|translated by|would like to thank)\b|"
    r"^(?:sources?(?!\s+of\b)|adapted from|courtesy of|reprinted (?:with permission )?from|credits?)\s*:?\s"
)
_ORGANISATION = re.compile(
    r"\b(?:National|Institutes?|Centers?|Centres?|Agency|Administration|Department|Dept|Office|Association|Society|"
    r"Foundation|Academy|Library|College|Council|Organi[sz]ation|Federation|Alliance|Network|Registry|Service|Services|"
    r"Program|Programme|Bureau|Commission|University|Clearinghouse|NIH|CDC|FDA|NCI|NLM|WHO|MedlinePlus)\b"
)
_AGENCY_PREFIX = re.compile(r"^[A-Z][A-Za-z.&]{1,10}:\s+")
_MEDIA = _rx(
    # Not the video of a procedure ("the camera sends a video image to a monitor", "video urodynamic images"), nor a
    # call ("video-chatting with family").
    r"\b(?:videos?(?![- ](?:\w+ )?(?:images?|camera|capsule|monitor|screen|endoscop\w*|assisted|fluoroscop\w*|games?|"
    r"urodynamic\w*|swallow\w*|EEG|recordings? of|chat\w*|calls?|visits?|consultations?))|"
    r"animations?|audio|podcasts?|slide ?shows?|webcasts?|captions?|captioning|multimedia|"
    r"interactive tutorials?|full[- ]screen|media player)\b"
)
_MEDIA_ACTION = _rx(
    r"\b(?:click|press|tap|watch|view|play|enlarge|reduce|pause|listen|download|button|screen(?! time)|keyboard|brackets?|"
    r"icon|arrow|launch|open|below|above|shows?|following)\b"
)
_CONTROLS = _rx(r"\b(?:press|click|tap)\b.{0,40}\b(?:button|key|icon|brackets?|screen|arrow)\b|\bescape \(esc\)")
# A medical device's controls are instructions to keep: "press the button until the dose counter shows 0", "click the
# cap back onto the pen".
_DEVICE = _rx(
    r"\b(?:pens?|inhalers?|puffer|(?:auto[- ]?)?injectors?|epi ?pens?|pumps?|meters?|monitors?|needles?|doses?|"
    r"counters?|devices?|syringes?|canisters?|nebuli[sz]ers?|spacers?|lancets?|strips?|cap|dial|skin|thigh|"
    r"defibrillators?|aed|cpap|hearing aids?|insulin)\b"
)
_POINTER = _rx(
    r"\bfor (?:more|additional|further|detailed|specific|general|complete|the latest) information\b|"
    r"\bmore (?:detailed |specific |in-depth |complete )?information (?:is|can be|may be) (?:found|available|obtained|provided)|"
    r"\b(?:to )?(?:learn|read|find out|hear) more\b|\b(?:to )?(?:read|learn) about\b|\bfor information (?:on|about)\b|"
    r"\b(?:web ?site|web ?page|page|site) (?:offers|has|provides|contains|lists)\b|"
    r"\b(?:is|are) available (?:from|at|on|through) (?:the |our |its )?\S+|"
    r"\binformation (?:about|on|regarding)\b[^.]{0,120}\b(?:is|are|can be|may be) (?:found|available|obtained|provided)\b"
)
# A click that is a device's ("click the dose selector to 2 units"), not a link's: no web word with it.
_CLICK_ON_DEVICE = _rx(r"^(?!.*\b(?:here|link|website|web site|page|below|above|online)\b).*\bclick")
# Pointers whatever they name: "Click ...", "Read more about ...", "... can be accessed through ...".
# A click as an instruction, not "clicking noises" or a joint that clicks.
_ALWAYS_POINTER = _rx(
    r"\bclick(?:ing|ed)? (?:here|on|the|this|a|an|below|above|to|through|it|link)\b|\bclick here\b|"
    r"^(?:read|learn) more\b|\bcan be accessed (?:at|on|from|through|via|online)\b|"
    # A site's own furniture: a trials search's instructions, where a list came from, an exit notice.
    r"\brefine the search\b|\bretrieved from nci'?s\b|\bcheck nci'?s list\b|\byou are leaving an? [\w.]+ web ?site\b"
)
# "Researchers are working to learn more about ...": research, not a pointer.
_RESEARCH = _rx(r"\b(?:researchers?|scientists?|investigators?|studies|study|trials?)\b[^.]{0,60}\blearn more\b")
_RESOURCE = _rx(
    r"\b(?:see|visit|go to|check out|web ?sites?|web ?pages?|site|page|links?|summary|summaries|fact sheets?|"
    r"booklets?|brochures?|publications?|resources?|articles?|guides?|call|contact|write to|e-?mail|sections?|"
    r"chapters?|tables?|figures?|illustrations?|diagrams?|"
    r"clearinghouse|information center|hotline|helpline|library|online|pdq|www\.|https?://|under (?:the )?(?:heading|section|tab|topic)s?|below|following|"
    r"institutes?|agency|association|foundation|society|nih|cdc|fda|nci|medlineplus|medscape|niddk|nhlbi|ninds|nimh|"
    r"niams|nichd|health topics?)\b|\.(?:gov|org|com|edu)\b"
)
_SEE_SOMEONE = _rx(
    r"^\W*(?:please )?(?:see|visit|go to|check with)\s+(?:a |an |your |the |one's )?(?:[\w-]+ ){0,3}(?:doctors?|"
    r"dentists?|professionals?|providers?|physicians?|gps?|specialists?|nurses?|pharmacists?|emergency|hospitals?|"
    r"clinics?|er|a ?& ?e|accident and emergency|casualty|urgent care|health ?care|optometrists?|ophthalmologists?|"
    r"surgeons?|therapists?|midwife|midwives)\b"
)
_STARTS_POINTING = _rx(r"^[(*]?(?:see|visit|go to|check out|view|browse|refer to|please see)\b")
_CONTACT = _rx(
    r"https?://\S+|\bwww\.\S+|\b\S+@\S+\.[a-z]{2,}\b|\(\d{3}\)\s*\d{3}[-.\s]\d{4}\b|\b\d{3}[-.]\d{3}[-.]\d{4}\b|"
    r"\b1[-.\s]8\d\d[-.\s][\dA-Z]{3}[-.\s][\dA-Z]{4}\b|\b1?8[0-9]{9}\b|\b\d{3} \d{3} \d{4}\b|"
    r"\b(?:tty|tdd|toll[- ]free|fax)\b|\bp\.?\s?o\.? box\b"
)
_LANGUAGE_SWITCH = _rx(
    r"^(?:(?:en|in|ver en|lea (?:esto )?en|read (?:this )?in|also available in|available in)\s+)?"
    r"(?:español|espanol|spanish|english|other languages|multiple languages)\W*$|"
    r"\b(?:is|are) (?:also )?available in (?:spanish|español|other languages|several languages|\w+ and spanish)\b"
)
# A page's notice that it is no medical advice: said of the page or its information, or the stock "seek the advice
# of your physician with any questions" (a sentence saying a remedy is no substitute for care is answer content).
_DISCLAIMER = _rx(
    r"\bdisclaim(?:ers?|s)?\b|\bseek the advice of (?:your|a) (?:physician|doctor)\b[^.]{0,80}\bquestions?\b|"
    r"\b(?:(?:does|do) not|doesn[’']?t|don[’']?t) (?:necessarily )?(?:recommend or |imply (?:an )?|constitute (?:an )?)?"
    r"endorse(?:ment|s)?\b|"
    r"\bnot responsible for (?:the )?content\b|\bno liability\b|\bdisregard (?:professional )?medical advice\b|"
    r"\bviews? expressed\b[^.]{0,80}\b(?:do not|don't|does not|doesn't) (?:necessarily )?(?:reflect|represent)\b|"
    r"\b(?:answers?|information|content|advice|articles?) (?:is|are|here is) (?:of a )?general (?:in )?nature\b|"
    r"\b(?:not|no)\b[^.]{0,40}\b(?:doctor|physician|clinician|provider|therapist)[-– ]patient relationship\b|"
    r"\b(?:intended|meant|written) for (?:\w+ )?(?:residents|readers|audiences)\b|"
    r"\berrors (?:or|and) omissions\b|\b(?:we|they) (?:cannot|can't|can not|do not|don't|make no) (?:guarantee|warrant|"
    r"warranties|representations?)\b|\bguarantee of (?:benefits|coverage|payment)\b|"
    r"\bat (?:your|the (?:user|reader)'?s?) own risk\b|\breliance on (?:any )?(?:the )?information\b|"
    r"\bsponsored (?:content|post|article)\b|\beditorial (?:input|control|independence)\b|"
    r"\bintended (?:only )?for\b[^.]{0,30}\bprofessionals only\b|\bstrictly informational\b|"
    r"\bfor (?:general |educational |education |informational |information(?:al)? )*(?:purposes|use|information) only\b"
)
_ABOUT_THE_PAGE = _rx(
    r"\b(?:information|informational|content|site|page|website|article|material|text|publication|fact sheet|"
    r"leaflet|answers?|views|app|forum|platform|blog|post|newsletter)\b"
)
_NOT_ADVICE = _rx(
    r"\b(?:not|no|never|nothing|cannot|can't|isn't|aren't|doesn't|don't|shouldn't|won't)\b[^.]{0,40}"
    r"\b(?:replace|replacement|substitute|constitutes?|provide|give|offer|considered|taken as|relied|in place of|"
    r"intended|meant|designed)"
    r"\b[^.]{0,60}\b(?:advice|care|consultation|professional|doctor|physician|clinician|gp|pharmacist|judge?ment|"
    r"diagnos|treat|assessment)|\bfor (?:general |educational |informational |information(?:al)? )(?:purposes|use)\b"
)
_ASK_A_PROFESSIONAL = _rx(
    r"^(?:always |please |instead,? )?(?:consult|ask|see|talk|speak|check|contact)\b[^.]{0,80}\b(?:doctor|gp|"
    r"physician|pharmacist|professional|provider|clinician|practitioner|nurse)s?\b|\bnot (?:intended|meant)\b|"
    r"^(?:in (?:an|case of (?:an )?)emergency|if you (?:have|are) (?:any )?(?:concerns?|worried|questions?))\b"
)
# A copyright or licence line: the sign, "all rights reserved", "(c) 2015", the word with a year, a licence.
_COPYRIGHT = _rx(
    r"©|\ball rights reserved\b|\(c\)\s*(?:crown |(?:19|20)\d\d\b)|\bcopyright\b[^.]{0,60}\b(?:19|20)\d\d\b|"
    r"\bcopyright notice\b|\b(?:work|material|content|page|site) is (?:protected by )?copyright\b|\bnot copyrighted\b|"
    r"\b(?:images?|logos?)\b[^.]{0,80}\btrademarked\b|\bnot in the public domain\b|"
    r"\bnon-?commercial use\b|\bcreative commons\b|\bcc by(?:-\w+)*\b|"
    r"\b(?:reproduc|duplicat|distribut|republish|reprint|reus|copie|copy|copying)\w*\b[^.]{0,80}\b(?:prohibited|"
    r"without (?:the )?(?:prior )?(?:express )?(?:written )?permission)\b|"
    r"\b(?:republished|reprinted|reproduced|used) with (?:kind )?permission\b|"
    r"\btrademarks?\b[^.]{0,60}\b(?:property of|respective owners)\b|\b(?:are|is a) (?:registered )?trademarks? of\b|"
    r"\bimages? courtesy of\b|\b(?:content|text|material|information) (?:is )?licen[cs]ed (?:from|by|under)\b|"
    r"\blicen[cs]ed under\b|\bopen government licen[cs]e\b"
)
_SOCIAL = _rx(
    r"\b(?:follow|like|find|join|connect with) us\b|\bfollow @\w+|\btweet this\b|^stay connected(?:\W*$|:)|"
    r"@\w+ on (?:twitter|x|instagram|facebook|linkedin|tiktok|threads)\b|"
    r"^(?:#[^\W_]\w*[\s,]*){2,}$|^\d+ (?:comments?|replies|responses|shares|likes)$|\b(?:leave|post|add) a (?:comment|reply|review)\b|\bjoin the (?:conversation|discussion)\b|\bcomments? below\b|"
    r"\buse (?:the )?(?:promo |discount |coupon )?code\b|\b\d+% off\b|\bcoupon\b|\bcancel (?:any ?time|at any time)\b|"
    r"\brate this (?:article|page|answer|post|video)\b|\btell us what you think\b|★|^(?:yes\W+no|no\W+yes)\W*$|"
    r"\b(?:share|print|e-?mail|bookmark|save|send) this (?:page|article|story|post|video|answer|infographic|"
    r"graphic|image|widget)\b|"
    r"\bshare (?:button|icon)\b|\bsend to a friend\b|\bprint-friendly\b|\benter your e-?mail\b|\bunsubscribe\b|"
    r"\b(?:sign up|subscribe|register)\b[^.]{0,40}\b(?:newsletters?|updates|alerts|e-?mails?|rss|feeds?|digest|"
    r"podcasts?|channel|mailing list|magazine)\b|\b(?:download|get) (?:our|the)\b[^.]{0,30}\bapp\b|\bapp store\b|"
    r"\bgoogle play\b|\bqr code\b|\b(?:was|is|found) this (?:page|article|answer|information) (?:helpful|useful)\b|"
    r"^(?:(?:facebook|twitter|instagram|linkedin|youtube|pinterest|whatsapp|tiktok|e-?mail|print|share|tweet|pin it|"
    r"x)\b\W*){2,}$"
)
# Citation identifiers: a DOI, a PubMed id, "[Accessed 12 May 2020]".
_CITATION_ID = _rx(
    r"\bdoi:\s*10\.\d{4,}|\bpmid:?\s*\d{5,}|\baccessed (?:on )?(?:\d{1,2} )?[a-z]+\.? (?:\d{1,2},? )?\d{4}\b"
)
# A segment ending as a reference entry ends: a journal's "2015;11(11):649-662.", a book's "Melbourne: Therapeutic
# Guidelines Limited; 2017." Only a short one is a reference; in a longer one the citation sits inside prose.
_REFERENCE_TAIL = _rx(
    r"\b(?:19|20)\d\d\s?;\s?\d+(?:\s?\(\d+\))?\s?:\s?e?\d+(?:\s?[-–]\s?\d+)?\.?$|"
    r"^[a-z][\w .,&'-]{2,40}: [^.;]{3,80}; (?:19|20)\d\d\.?$"
)
MAX_REFERENCE_WORDS = 25
# Not a range of values with its unit after it ("fasting glucose is [70-99] mg/dL").
_CITATION_MARKERS = re.compile(
    r"\s?\[\d+(?:\s*[,–-]\s*\d+)*\](?:\s?\[\d+(?:\s*[,–-]\s*\d+)*\])*"
    r"(?!\s?(?:mg|mcg|µg|ng|pg|g|kg|ml|mL|l|L|dL|mmol|µmol|mEq|mIU|IU|iu|U|units?|%|mm|cm|bpm|beats|breaths|mmHg|"
    r"mm Hg|°|degrees|years|months|weeks|days|hours|minutes|times)(?![A-Za-z]))"
)
# A superscript reference number flattened onto the end of a sentence ("at some point.1 It most often", NIDDK):
# after a word (a number there is a decimal) and before the next sentence, a list item or the end.
_SENTENCE_CITATION = re.compile(
    r"(?<=[A-Za-z)])(?<!Fig)(?<!No)(?<!Vol)(?<!Ch)(?<!pp)(?<!Ref)(?<!\b[A-Z])\.\d{1,2}(?:[,–-]\d{1,2})*(?=\s+[A-Z-]|\s*$)"
    r"(?!\s+(?:[Oo]micron|[Vv]ariant|[Ss]ubvariant|[Ll]ineage|[Ss]train)\b)"  # "BA.2 Omicron": a name
)
MAX_NOTICE_WORDS = 60
_REPEAT_GRAM = 6  # words in a run that counts as repeated
_MIN_REPEATED_WORDS = 5  # a repeated sentence shorter than this ("Blood tests") may be a legitimate echo


@dataclass
class Furnished:
    """An answer after the sentence families: its text and the families found, in order, each once."""

    text: str
    families: list[str] = field(default_factory=list)
    segments: list[Segment] | None = field(default=None, repr=False)  # those of `text`, when at hand

    def found(self, family: str) -> None:
        if family not in self.families:
            self.families.append(family)


def _title_case(text: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", text) if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def is_attribution(seg: Segment) -> bool:
    text = _AGENCY_PREFIX.sub("", seg.text)
    return (
        not seg.ends_sentence
        and not seg.item  # "- A Cardiac Rehabilitation Program": the last item of a list, not the page's agency
        and len(text.split()) <= 16
        and bool(_ORGANISATION.search(text))
        and (_title_case(text) or bool(_AGENCY_PREFIX.match(seg.text)))
    )


_TOKEN = re.compile(r"\S+")
_NIH_SOURCE = re.compile(r"\s*\bNIH: ((?:(?:[A-Z][\w'-]*|of|on|and|for|the),?\s*){1,14})$")
_CONNECTORS = frozenset("of and for on the in & to".split())
# Words after which a name is part of the sentence ("funded by the National Institutes of Health"), not glued on.
_LEADS_INTO_NAME = _CONNECTORS | frozenset(
    "by from at with visit contact call a an via through see your local nearest national".split()
)


def glued_attribution(text: str) -> int | None:
    """Where an agency's name glued to the end of the last list item or sentence begins ("... infected wounds
    Centers for Disease Control and Prevention"), or None. The name is the closing run of capitalised words and
    connectors (optionally after "NIH:") with an organisation word in it, after a word that does not lead into it."""
    if text.rstrip().endswith((".", "!", "?", ":")):
        return None
    source_line = _NIH_SOURCE.search(text)  # MedlinePlus's source line, glued to a list item or a sentence
    if source_line and _ORGANISATION.search(source_line.group(1)):
        return source_line.start()
    tokens = list(_TOKEN.finditer(text))
    i = len(tokens)
    while i > 0:
        word = tokens[i - 1].group().rstrip(",")
        if not word or not (word[0].isupper() or word.lower() in _CONNECTORS):
            break
        i -= 1
    while i < len(tokens) and tokens[i].group().lower() in _CONNECTORS:
        i += 1
    if i == 0 or len(tokens) - i < 2 or tokens[i - 1].group().lower() in _LEADS_INTO_NAME:
        return None
    if tokens[i - 1].group() in ("-", "*", "•"):
        return None  # a list item of its own ("- A Cardiac Rehabilitation Program"), not a name glued onto one
    name = text[tokens[i].start() :]
    return tokens[i].start() if _ORGANISATION.search(name) and not _CRISIS.search(name) else None


def _short(seg: Segment) -> bool:
    """A notice is a sentence or two: a longer run-on segment that mentions one holds content too (a list of
    diseases running into a copyright line), and is kept."""
    return len(seg.text.split()) <= MAX_NOTICE_WORDS


def is_section_heading(seg: Segment) -> bool:
    """A section heading: a short title-case line or segment with no sentence, or an introduction ending in a
    colon."""
    text = seg.text
    shaped = text.endswith(":") or (
        not seg.ends_sentence and not seg.item and len(text.split()) <= 10 and _title_case(text)
    )
    # Never advice in title case ("Use Epinephrine And Call 911 Right Away"): checked only for what looks a heading.
    return shaped and not (advises_urgent_care(text) or _CRISIS.search(text))


def is_pointer(seg: Segment) -> bool:
    text = seg.text
    if _ALWAYS_POINTER.search(text) and not (_CLICK_ON_DEVICE.search(text) and _DEVICE.search(text)):
        return True
    if _POINTER.search(text) and _RESOURCE.search(text) and not _RESEARCH.search(text):
        return True
    if _SEE_SOMEONE.match(text):  # "See your doctor right away if ...", "Go to the emergency room ...": advice
        return False
    return bool(_STARTS_POINTING.match(text)) and bool(_RESOURCE.search(text[4:]) or "information" in text.lower())


# Where to turn in a crisis or a poisoning: a resource the answer must keep, phone number and all.
_CRISIS = _rx(
    r"\b(?:crisis|suicid\w*|self[- ]harm\w*|(?:harm|harming|hurt|hurting|kill|killing) (?:yourself|themselves|oneself)|"
    r"keep (?:yourself|themselves|oneself) safe|poisons? (?:control|information|help ?line|centre|center)|"
    r"ingestion (?:hotline|help ?line)|lifeline)"
)

# (family, the words without which it cannot be there, a pattern that finds where it may be, the test of the
# segment found there). The words are plain substring tests of the lower-cased answer (most answers hold none, and
# skip the family at once); the patterns run on the lower-cased answer too, without re.IGNORECASE, which is slower.
_FAMILIES = (
    (
        "credits",
        "review|editor|updated|modified|revised|accredited|provided by|translated|source|adapted|courtesy|reprinted|"
        "credit|would like to thank",
        r"review|editor|updated|modified|revised|accredited|provided by|translated|sources?\b|adapted|courtesy|"
        r"reprinted|credits?\b|would like to thank",
        lambda seg: bool(_CREDITS.search(seg.text)),
    ),
    (
        "media_instructions",
        "video|animation|audio|podcast|slide|webcast|caption|multimedia|tutorial|media player|button|bracket|keyboard|"
        "icon|(esc",
        r"video|animation|\baudio\b|podcast|slide ?show|webcast|caption|multimedia|tutorial|media player|button|"
        r"bracket|keyboard|\bicon|\(esc",
        lambda seg: bool(
            (_CONTROLS.search(seg.text) and not _DEVICE.search(seg.text))
            or (_MEDIA.search(seg.text) and _MEDIA_ACTION.search(seg.text))
        ),
    ),
    (
        "language_switch",
        "español|espanol|spanish|english|languages",
        r"espa[ñn]ol|spanish|english|languages",
        lambda seg: bool(_LANGUAGE_SWITCH.search(seg.text)),
    ),
    (
        "more_information",
        "click|information|learn|read|find out|hear more|available|accessed|offers|provides|contains|lists|see|visit|"
        "go to|check out|view|browse|refer to|refine the search|retrieved from|nci|you are leaving",
        r"click|information|learn more|read more|find out more|hear more|learn about|read about|refine the search|"
        r"retrieved from nci|check nci|you are leaving|"
        r"available (?:from|at|on|through)|can be accessed|(?:web ?site|web ?page|page|site) (?:offers|has|provides|"
        r"contains|lists)|(?:^|(?<=[.!?(\n-])|(?<=[.!?(\n-] ))[(*]?(?:please see|see|visit|go to|check out|view|browse|"
        r"refer to)\b",
        is_pointer,
    ),
    (
        "disclaimer",
        "disclaim|advice|substitute|replace|intended|meant|designed|purposes|use only|information only|endorse|"
        "responsible|liability|informational|professionals only|expressed|general nature|general in nature|"
        "patient relationship|written for|omissions|guarantee|warrant|representation|own risk|reliance|sponsored|"
        "editorial",
        r"disclaim|advice|substitute|replace|intended|meant|designed|purposes|use only|information only|endorse|"
        r"responsible|liability|informational|professionals only|expressed|general (?:in )?nature|"
        r"patient relationship|written for|omissions|guarantee|warrant|representation|own risk|reliance|sponsored|"
        r"editorial",
        lambda seg: (
            _short(seg)
            and bool(
                _DISCLAIMER.search(seg.text) or (_NOT_ADVICE.search(seg.text) and _ABOUT_THE_PAGE.search(seg.text))
            )
        ),
    ),
    (
        "copyright",
        "©|copyright|rights reserved|(c)|permission|prohibited|commercial|creative commons|cc by|trademark|courtesy|"
        "licensed|licenced|licence|public domain",
        r"©|copyright|rights reserved|\(c\)|permission|prohibited|commercial|creative commons|cc by|trademark|"
        r"courtesy|licen[cs]ed|licence|public domain",
        lambda seg: _short(seg) and bool(_COPYRIGHT.search(seg.text)),
    ),
    (
        "social_media",
        "us|@|connected|share|tweet|print|this page|friend|your email|your e-mail|sign up|subscribe|register|app|"
        "google play|qr code|helpful|useful|facebook|twitter|instagram|linkedin|youtube|pinterest|whatsapp|tiktok|"
        "comment|conversation|discussion|code|% off|coupon|cancel|rate this|tell us|★|yes|#",
        r"\bus\b|follow @|connected|share|tweet|print|this (?:page|article|story|post|video|answer)|friend|"
        r"your e-?mail|sign up|subscribe|register|\bapp\b|google play|qr code|helpful|useful|facebook|twitter|"
        r"instagram|linkedin|youtube|pinterest|whatsapp|tiktok|comment|conversation|discussion|\bcode\b|% off|"
        r"coupon|cancel|rate this|tell us|★|\byes\W+no\b|\bno\W+yes\b|#\w",
        lambda seg: _short(seg) and bool(_SOCIAL.search(seg.text)),
    ),
    (
        "citation",
        "doi|pmid|accessed|;",
        r"doi|pmid|accessed|; ?(?:19|20)\d\d|(?:19|20)\d\d ?;",
        lambda seg: bool(
            _CITATION_ID.search(seg.text)
            or (len(seg.text.split()) <= MAX_REFERENCE_WORDS and _REFERENCE_TAIL.search(seg.text))
        ),
    ),
    (
        "contact_details",
        "http|www.|@|tty|tdd|toll|fax|box|-8|18",
        r"https?://|www\.|@|\btty\b|\btdd\b|toll[- ]free|\bfax\b|\bp\.?\s?o\.? box|1[-.\s]?8\d\d",
        lambda seg: (
            bool(_CONTACT.search(seg.text)) and not advises_urgent_care(seg.text) and not _CRISIS.search(seg.text)
        ),
    ),
)
# Phone numbers have no word to look for first; this finds the answers that may hold one.
_PHONE_HINT = re.compile(r"\d\d\d[-. )]\s?\d\d\d[-. ]\d\d\d\d")
_TRIGGERS = [
    (family, words.split("|"), re.compile(pattern), re.compile(pattern, re.IGNORECASE), test)
    for family, words, pattern, test in _FAMILIES
]


def _family_hits(text: str, segments: list[Segment]) -> dict[int, str]:
    """Index of each segment of a family -> the family (the first family in `_FAMILIES` that matches)."""
    lower = text.lower()
    same_length = len(lower) == len(text)  # lower() lengthens a few characters ("İ"): then search the text itself
    starts = [seg.start for seg in segments]
    hits: dict[int, str] = {}
    for family, words, fast, careful, matches in _TRIGGERS:
        found = []
        if any(word in lower for word in words):
            found = [m.start() for m in (fast.finditer(lower) if same_length else careful.finditer(text))]
        if family == "contact_details":
            found += [m.start() for m in _PHONE_HINT.finditer(text)]
        for position in found:
            i = bisect_right(starts, position) - 1
            if i >= 0 and i not in hits and position < segments[i].end and matches(segments[i]):
                hits[i] = family
    return hits


def _continue_notices(text: str, segments: list[Segment], hits: dict[int, str]) -> None:
    """A notice goes on in the sentences right after it that send the reader to a professional ("Always consult your
    GP."), in the same paragraph: they belong to it."""
    for i in sorted(i for i, family in hits.items() if family == "disclaimer"):
        j = i + 1
        while (
            j < len(segments)
            and j not in hits
            and "\n\n" not in text[segments[j - 1].end : segments[j].start]
            and _short(segments[j])
            and _ASK_A_PROFESSIONAL.search(segments[j].text)
        ):
            hits[j] = "disclaimer"
            j += 1


# A dose, an amount, a measurement or a numbered step: answer content, however short ("Adults: 2 puffs every 4
# hours.", "Normal: less than 120/80 mm Hg.", "Step 4: Hold your breath.", "Type 2 diabetes: diet, metformin.").
_MEASURED = _rx(
    r"\b\d+(?:[.,/]\d+)*\s?(?:mg|mcg|µg|g|kg|lbs?|ml|l|iu|units?|micrograms?|milligrams?|grams?|puffs?|tablets?|"
    r"pills?|capsules?|caplets?|doses?|drops?|sprays?|teaspoons?|tsp|tablespoons?|hours?|hrs?|minutes?|mins?|days?|"
    r"weeks?|months?|years? old|times|mm ?hg|mmol(?:/l)?|mg/dl|g/dl|bpm|percent|%|°[cf]?|degrees?|c|f|cm|mm|inches)"
    r"(?![a-z])|"
    r"^(?:step|stage|grade|type|phase|level|day|week|dose|tier|class)\s+(?:\d+|[ivx]+)\b"
)


def is_content(text: str) -> bool:
    """Never a page notice: advice to get urgent help, a crisis resource, or a dose, an amount or a numbered step."""
    return advises_urgent_care(text) or bool(_CRISIS.search(text) or _MEASURED.search(text))


def _closing_notices(text: str, segments: list[Segment], hits: dict[int, str]) -> None:
    """What closes the answer that the learned model calls a page notice (`data/notice_model.py`), walking back from
    the end past what the rules found: whole lines first, then single segments of the last line left (a stricter
    threshold: one short sentence is little evidence), with the advice to see a professional that follows one. It
    stops at the first segment, a list item (the last items of a list of symptoms are short and plain) or content."""
    end = len(segments)
    while end > 1:
        start = end - 1
        while start > 0 and "\n" not in text[segments[start - 1].end : segments[start].start]:
            start -= 1
        open_ = [i for i in range(max(start, 1), end) if i not in hits]
        if start == 0 or any(segments[i].item or is_content(segments[i].text) for i in open_):
            break  # the answer's first line, or a line that holds content: judged sentence by sentence below
        line = text[segments[start].start : segments[end - 1].end]
        if open_ and (not 2 < len(line.split()) <= MAX_NOTICE_WORDS or not is_page_notice(line)):
            break
        hits.update((i, "page_notice") for i in open_)
        end = start
    advice: list[int] = []
    for i in range(end - 1, 0, -1):
        seg = segments[i]
        if i in hits:
            continue
        if seg.item or not _short(seg) or is_content(seg.text):
            return
        if len(seg.text.split()) > 2 and is_page_notice(seg.text, segment=True):  # two words are too few to judge
            hits[i] = "page_notice"
            hits.update((j, "page_notice") for j in advice)
            advice = []
        elif _ASK_A_PROFESSIONAL.search(seg.text):
            advice.append(i)
        else:
            return


def _lead_in_questions(text: str, segments: list[Segment], hits: dict[int, str]) -> None:
    """A short question opening the line of a notice is its lead-in ("Was this page helpful? Yes / No", "Want to
    learn more? Visit ..."): it goes with it."""
    for i in sorted(hits):
        lead = i - 1
        if lead < 0 or lead in hits:
            continue
        seg = segments[lead]
        starts_line = not text[: seg.start].strip() or text[: seg.start].rstrip(" \t").endswith("\n")
        between = text[seg.end : segments[i].start]
        if starts_line and seg.text.endswith("?") and len(seg.text.split()) <= 8 and "\n" not in between:
            hits[lead] = hits[i]


def _repeats(words: list[str], key: str, seen_keys: set[str], seen_grams: set[tuple[str, ...]]) -> bool:
    """A segment the answer already gave: the same sentence, or (for a longer one) at least 80% of its words in
    runs of `_REPEAT_GRAM` words seen earlier, its opening run among them: an item that says of another thing what
    the one before said ("- Negative IGRA: ... is not likely" after "- Negative TST: ... is not likely") is new."""
    if len(words) >= _MIN_REPEATED_WORDS and key in seen_keys:
        return True
    if len(words) < 2 * _REPEAT_GRAM:
        return False
    covered = [False] * len(words)
    for i in range(len(words) - _REPEAT_GRAM + 1):
        if tuple(words[i : i + _REPEAT_GRAM]) in seen_grams:
            covered[i : i + _REPEAT_GRAM] = [True] * _REPEAT_GRAM
    return covered[0] and sum(covered) >= 0.8 * len(words)


def _may_repeat(text: str) -> bool:
    """Whether any run of `_MIN_REPEATED_WORDS` words occurs twice: without one, nothing can be a repeat."""
    words = text.casefold().split()
    grams = list(zip(*(words[i:] for i in range(_MIN_REPEATED_WORDS)), strict=False))
    return len(set(grams)) < len(grams)


def furnish(text: str) -> Furnished:
    """Drop every segment of a family above; then any heading left at the end."""
    result = Furnished(text)
    if _CITATION_MARKERS.search(text) or _SENTENCE_CITATION.search(text):
        text = _SENTENCE_CITATION.sub(".", _CITATION_MARKERS.sub("", text))
        result.found("citation_markers")
    segments = split_segments(text)
    hits = _family_hits(text, segments)
    _continue_notices(text, segments, hits)
    _closing_notices(text, segments, hits)
    _lead_in_questions(text, segments, hits)
    check_repeats = _may_repeat(text)
    dropped: set[int] = set()
    seen_keys: set[str] = set()
    seen_grams: set[tuple[str, ...]] = set()
    tail: list[str] = []  # the last words kept, for runs that cross into the next segment
    dropping_list = False  # the titles a dropped pointer introduced ("See these summaries: - A - B")
    for i, seg in enumerate(segments):
        if dropping_list and seg.item and not seg.ends_sentence and len(seg.text.split()) <= 12:
            dropped.add(i)
            continue
        dropping_list = False
        family = hits.get(i)
        if family is None and check_repeats:
            words = seg.key.split()
            if _repeats(words, seg.key, seen_keys, seen_grams):
                family = "repeated_text"
            else:
                # Runs across segment boundaries count too: list items repeated later as run-on text.
                seen_keys.add(seg.key)
                stream = tail + words
                seen_grams.update(zip(*(stream[j:] for j in range(_REPEAT_GRAM)), strict=False))
                tail = stream[-(_REPEAT_GRAM - 1) :]
        if family:
            result.found(family)
            dropped.add(i)
            dropping_list = family == "more_information" and seg.text.endswith(":")
    kept = [seg for i, seg in enumerate(segments) if i not in dropped]
    removed = [segments[i] for i in dropped]
    # The agency's name closing the answer (possibly on several lines: "NIH: ...", then "Centers for ...").
    while len(kept) > 1 and is_attribution(kept[-1]):
        result.found("attribution")
        removed.append(kept.pop())
    while len(kept) > 1 and is_section_heading(kept[-1]):
        result.found("trailing_heading")
        removed.append(kept.pop())
    result.text = drop_segments(text, removed)
    if (glued := glued_attribution(result.text)) is not None:
        result.found("attribution")
        result.text = result.text[:glued].rstrip()
    if result.text is text:
        result.segments = segments
    return result


def drop_trailing_headings(text: str) -> str:
    """`text` without the headings (or a list's introduction) left at its end, as a cut can leave them."""
    segments = split_segments(text)
    dropped = []
    while len(segments) > 1 and is_section_heading(segments[-1]):
        dropped.append(segments.pop())
    return drop_segments(text, dropped)
