"""Concepts a question can carry, for the learned part of the safety classifier (`data/safety.py`): a logistic model
(`safety_model.json`, trained by `benchmarks/train_safety_model.py`) weighs the concepts and their pairs. Concepts,
not words, are learned, so that what the model learned from one phrasing carries over to another.
"""

from __future__ import annotations

import re
from itertools import combinations

from medimind_assets.data.medicines import MEDICINES
from medimind_assets.data.safety_text import ECTOPIC_PREGNANCY, phrases

CONCEPTS: dict[str, re.Pattern[str]] = {
    "now": phrases(
        r"now|right now|just|suddenly|sudden|all of a sudden|this (?:morning|afternoon|evening)|tonight|today|"
        r"\d+ (?:minutes?|mins?|hours?|hrs?) ago|an hour ago|since (?:this|last night|yesterday|then)|keeps?|still|"
        r"currently|woke up|started|began|came on|getting (?:worse|more)|by the (?:hour|minute)|anymore|at the moment"
    ),
    "person": phrases(
        r"i|im|ive|me|my|we|our|us|he|hes|she|shes|they|his|her|him|their|friend|husband|wife|partner|boyfriend|"
        r"girlfriend|gf|bf|son|daughter|kid|kids|child|baby|toddler|mom|mum|mother|dad|father|brother|sister|nan|"
        r"grandma|grandpa|grandad|grandmother|grandfather|roommate|coworker|colleague|neighbou?r|uncle|aunt|nephew|"
        r"niece|cousin|someone|somebody"
    ),
    "severe": phrases(
        r"severe|severely|worst|agoni[sz]ing|excruciating|unbearable|terrible|terribly|horrible|really bad|so bad|"
        r"extreme|extremely|violent|violently|intense|crushing|tearing(?! (?:eyes|up))|ripping|stabbing|explosive|thunderclap|"
        r"heavy|heavily|a lot|loads|buckets|pouring|gushing|out of control|cant stand|worse and worse|"
        r"more and more|way worse|by the hour|fast|rapidly|quickly|wont stop|cant stop|not stopping|doesnt stop|"
        r"constant|nonstop|non stop|keeps? (?:throwing up|vomiting|bleeding)"
    ),
    "unable": phrases(
        r"(?:cant|cannot|can not|couldnt|unable to|wont|will not|hard to|struggling to|too \w+ to) (?:even )?"
        r"(?:breathe?|breathing|swallow|speak|talk|say|walk|stand|move|feel|see|wake|stay awake|lift|keep (?:anything|"
        r"it|fluids|water) down|drink|stop|get up|focus|respond|answer|open)"
    ),
    "consciousness": phrases(
        r"drowsy|sleepy|lethargic|floppy|limp|confused|confusion|disoriented|not making sense|talking nonsense|"
        r"mumbling|barely (?:responding|conscious|awake)|unresponsive|not responding|wont respond|passed out|"
        r"passing out|pass out|blacked out|fainted|faint|fainting|lightheaded|light headed|dizzy|collapsed|"
        r"wont wake|cant wake|hard to wake|dont remember|doesnt remember|out cold|knocked out|zoned out|"
        r"eyes rolled|acting (?:drunk|strange|weird)|not himself|not herself|delirious"
    ),
    "breathing": phrases(
        r"(?<!bad )breath\w*|short of breath|shortness of breath|gasping|wheez\w*|choking|choked|stridor|squeaky|"
        r"whistling|gurgling|suffocat\w*|stopping breathing|stops breathing|not breathing|barely breathing|"
        r"ribs sucking|sucking in|cant get air|air hunger|panting|breathless|nebuli[sz]er|inhaler"
    ),
    "chest_heart": phrases(
        r"chest|heart racing|heart is racing|heart pounding|racing heart|palpitations|heartbeat|heart beat|"
        r"pulse|skipping beats|irregular heartbeat|heart rate"
    ),
    "bleeding": phrases(
        r"bleed\w*|blood|bloody|haemorrhag\w*|hemorrhag\w*|black (?:stool|poo|poop)|tarry|coffee grounds|"
        r"soaking (?:through )?(?:a |the )?pad"
    ),
    "neuro": phrases(
        r"numb\w*|tingl\w*|weak|weakness|paraly\w*|slurred|slurring|droop\w*|double vision|blurr\w*|vision|"
        r"cant see|seizure|seizing|fit|fitting|convuls\w*|jerking|twitching|stiff neck|neck is stiff|light hurts|"
        r"headache|head is pounding|pupils|eyes moving|wont move"
    ),
    "pain": phrases(r"pain|painful|pains|hurts?|hurting|ache|aches|aching|sore|cramp\w*|agony|killing me"),
    "belly": phrases(
        r"belly|stomach|abdomen|abdominal|tummy|side|groin|testicle|testicles|ball|balls|scrotum|pelvis|bowel|"
        r"appendix|spleen|vomit\w*|throwing up|threw up|sick|puking|nausea|nauseous|poo|poop|stool"
    ),
    "skin_colour": phrases(
        r"blue|bluish|blue ish|grey|gray|greyish|pale|white|waxy|mottled|blotchy|purple|clammy|cold and|"
        r"drenched in sweat|sweating|sweaty|hot and dry|yellow|dots|rash"
    ),
    "toxic": phrases(
        # Not "took", "ate" or "drank" alone: "took 10 lessons", "ate a dozen eggs" (what was taken names it).
        r"swallowed|swallow|ingested|chewed|licked|got into|missing from|overdos\w*|"
        # Not gas in the gut, acid reflux or an amino acid, nor alcohol use as such: the gas, acid or drink that poisons.
        r"poison\w*|(?<!non )toxic|chemical\w*|bleach|cleaner|antifreeze|pesticide|fumes|gas (?:leak|heater|stove|"
        r"cooker|smell|fire)|smell(?:s|ed)? (?:of )?gas|carbon monoxide|mushrooms|"
        r"berries|pills|tablets|capsules|battery|batteries|magnets?|ecstasy|mdma|cocaine|heroin|fentanyl|meth|"
        r"drugs|valium|xanax|paracetamol|tylenol|acetaminophen|iron|alcohol (?:poisoning|overdose)|(?:with|and) "
        r"alcohol|shots|drunk|vodka|oven cleaner|drain|lye|(?:battery|drain|hydrochloric|sulfuric|sulphuric|muriatic|"
        r"hydrofluoric) acid|acid (?:burn|splash\w*|in (?:my|his|her|the) eyes?)|lime|cement"
    ),
    "injury": phrases(
        # Not hair falling out, or falling asleep.
        r"fell|fall|fallen|(?<!hair is )(?<!hair )falling(?! (?:out|asleep))|crash|accident|hit (?:my|his|her|their|the|a)|banged|knocked|struck|burn|burns|"
        r"burned|burnt|scald\w*|boiling|fire|electric\w*|shock|stabbed|shot|stuck in|impaled|cut|gash|wound|bitten|"
        r"bit|bite|stung|sting|snake|adder|scorpion|spider|drown\w*|pulled (?:him|her|them) out|fracture\w*|broken|"
        r"dislocat\w*|cast|lightning|frostbite|hypothermi\w*|heatstroke|overheating|heat"
    ),
    "infant": phrases(
        r"baby|babys|newborn|infant|\d+ (?:days?|weeks?|wks?) old|(?:1|2|3|one|two|three) (?:month|mo) old|"
        r"soft spot|fontanelle|nappy|nappies|diaper|diapers|feed|feeds|feeding"
    ),
    "pregnancy": phrases(r"pregnan\w*|weeks pregnant|wks pregnant|trimester|bump|waters?|contractions|cord|labou?r"),
    # Not a reading that is normal: "temperature taken, 36.8".
    "fever": phrases(
        r"fever|feverish|(?:temp|temperature)(?! (?:taken|check\w*|reading|(?:of |is |was |at )?(?:3[0-7]|9[0-9])\b))|"
        r"3[89](?: \d)?|4[01](?: \d)?|10[2-6](?: \d)?|burning up|hot"
    ),
    "self_harm_soft": phrases(
        r"burden|better off|end it|ending it|finish (?:my|his|her) life|go to sleep and never|never wake|noose|rope|"
        r"bridge|ledge|other side|goodbye|last week|painless way|way to go|saving up (?:his|her|my)? ?pills|"
        # Not harm done by a thing ("can coffee harm my liver"): harm done to oneself or others.
        r"using them on myself|hurt (?:people|someone|others)|voices|kill|die|dying|dead|suicid\w*|self harm\w*|"
        r"harm(?:ing)? (?:my|him|her|them)sel(?:f|ves)|harm (?:people|someone|others)|"
        r"cutting|guns?|knife"
    ),
    # Long-standing or long past: what a person has lived with is rarely an emergency now.
    "chronic": phrases(
        r"for (?:\d+|a few|several|many|some|the past|the last) (?:\w+ )?(?:years?|months?|weeks?)|for (?:years|months)|for (?:the )?(?:past|last) (?:\d+ |few |several |many )?(?:years?|months?|weeks?)|"
        r"chronic|"
        r"always|every (?:day|night|morning|evening|week|month|time)|all my life|on and off|for ages|recurring|"
        r"keeps? coming back|years? ago|months? ago|last (?:year|month)|as a (?:baby|child|kid|teen)|used to|"
        r"diagnosed (?:with|in)|history of|since (?:i was|childhood|birth)|(?:winters?|summers?) ago|growing up|"
        r"after (?:eating|meals?|food|(?:fatty|spicy|big|heavy) (?:food|meals?))"
    ),
    # A question about a medicine (taking, giving, mixing it) is a caution question, however alarming its words.
    "medicine": phrases(
        MEDICINES,
        r"medicines?|medications?|meds|tablets?|pills?|capsules?|syrup|inhalers?|puffer|cream|ointment|drops|"
        r"prescri\w*|doses?|dosage|\d+ ?mg",
    ),
    # Small, passing or already over: "bled a bit and stopped", "small lump", "feel completely normal".
    "mild": phrases(
        r"a bit|a little|bit of|small|tiny|minor|mild|mildly|slight|slightly|stopped|went away|gone now|"
        r"feels? (?:completely |totally )?(?:normal|fine|ok|okay)|(?:otherwise|vision|he is|she is|i am|im) fine|"
        r"no other (?:symptoms|problems)|chopping|paper cut|splinter|graze|grazed|scrape|scraped|bruise|bruised|stubbed"
    ),
    "risk_context": phrases(
        r"diabetic|diabetes|type 1|type 2|chemo\w*|dialysis|afib|blood thinners?|warfarin|anticoagula\w*|"
        r"heart (?:surgery|condition|disease)|transplant|immunocompromised|\d{2} ?(?:years? old|yr old|yo)"
    ),
    "ask_urgency": phrases(
        r"should i|should we|do i (?:need|have) to|do we (?:need|have) to|is it (?:an )?emergency|er|a&e|911|999|112|"
        r"ambulance|hospital|go in|wait|ring someone|call someone|what do (?:i|we) do|what (?:should|can) (?:i|we) do|"
        r"is this (?:serious|normal|bad)|is it serious|help"
    ),
    "recognise": phrases(
        r"symptoms?|signs?|how (?:would|do|can|to) (?:i |you |someone |one )?(?:know|tell|recogni[sz]e|spot)|"
        r"what does \w+ (?:\w+ )?(?:feel|look) like|first aid|recovery position|what to do"
    ),
    "informational": phrases(
        r"what causes|causes|why (?:do|does|is|are)|how (?:many|common)|statistics|research|risk|more likely|"
        r"inherit\w*|genetic|prevent\w*|long term|after effects|years? ago|course|certificate|cost|test|tests|"
        r"diagnos\w*|measure|difference|history|recover\w*|rehab\w*|as a (?:baby|child|kid|teen)|job|work|"
        r"exam|study|studies|percentage|rate|what should i know|should know about"
    ),
    "condition_named": phrases(
        r"heart attack|stroke(?! like)|sepsis|meningitis|embolism|dissection|aneurysm|ketoacidosis|dka|anaphyla\w*|"
        r"appendicitis|torsion|"
        + ECTOPIC_PREGNANCY
        + r"|eclampsia|preeclampsia|epiglottitis|croup|pneumothorax|collapsed lung|"
        r"thyroid storm|adrenal crisis|addisons|serotonin syndrome|neuroleptic|toxic shock|necroti[sz]ing|"
        r"cauda equina|compartment syndrome|bowel obstruction|intussusception|pyloric|hypo|hyperkalaemia|hyperkalemia|"
        r"hypoglyc\w*|aneurism|ruptured|burst"
    ),
}
NAMES = sorted(CONCEPTS)


def concepts(text: str) -> set[str]:
    """The concepts of a normalised text (`data/safety_text.normalise`), and their pairs (the model may weigh two
    together: "severe" means more with "belly" than alone)."""
    found = sorted(name for name, pattern in CONCEPTS.items() if pattern.search(text))
    return set(found) | {f"{a}&{b}" for a, b in combinations(found, 2)}
