"""Safety levels for medical questions, the lines a user is shown with them, and the "seek urgent care" rule that
evaluation shares. The levels and the rule of thumb the labelled sets are judged by: `docs/safety-labels.md`; how
a question is classified: `docs/dataset.md`. The patterns read `safety_text.question_text` (normalised, misspellings
corrected), so each is written once, for correct words; `assess` returns the families that decided the level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path

from medimind_assets.data.medicines import MEDICINES
from medimind_assets.data.notice_model import load_model, logistic
from medimind_assets.data.safety_concepts import concepts
from medimind_assets.data.safety_text import ECTOPIC_PREGNANCY, phrases, question_text, read_as_english

SAFETY_LEVELS = ("safe", "caution", "emergency")


SELF_HARM = phrases(
    r"suicid\w*",
    r"kill(?:ing)? (?:my|him|her|them|your)sel(?:f|ves)",
    r"(?:want|wanna|going|gonna|plan|planning|thinking about|thought about|thoughts of|thoughts about) (?:to )?"
    r"(?:kill|hurt|harm|cut|burn|hang|shoot|poison|drown) (?:my|him|her|them)sel(?:f|ves)",
    r"(?:end|ending|take|taking) (?:my|his|her|their) (?:own )?li(?:fe|ves)",
    r"self (?:harm\w*|injur\w*)",
    r"(?:hurt|hurting|harm|harming|cut|cutting|burn|burning) (?:my|him|her|them)sel(?:f|ves)",
    r"(?:cutting|slitting|slit) (?:my|his|her|their) (?:arms?|wrists?|legs?|thighs?)",
    # "cuts her arms" as a habit, not "cuts his legs on the brambles" or "playing football"
    r"(?:cuts|keeps cutting) (?:my|his|her|their) (?:arms?|wrists?|thighs?)\b(?!(?: and \w+)? (?:on|playing|while|"
    r"when|during|at|from|in|with)\b)",
    r"(?:scratch|cut|carv|burn|slic)\w* (?:at )?(?:my|his|her|their) (?:arms?|wrists?|legs?|thighs?|skin|stomach) "
    r"with (?:a |my |the )?(?:razor|blade|lighter|cigarette|compass|scissors|glass|knife)",
    r"(?:want|wanna|wish i could|wish i was|rather) (?:to )?(?:die|be dead|not wake up|not be here|disappear)",
    r"(?:dont|do not|no longer) (?:want|wanna) to (?:live|be alive|be here|exist|wake up|go on)",
    r"better off (?:dead|without me|if i (?:was|were) gone|if i (?:just )?(?:disappeared|died|wasnt here))",
    r"(?:disappear|be gone) for good",
    r"no (?:reason|point) (?:to|in) (?:live|living|going on|being alive)",
    r"(?:cant|cannot) go on (?:anymore|any more|like this)",
    r"end it all|(?:thinking (?:about|of)|thought about|want(?:ed)? to|wanna|going to|gonna|plan(?:ning)? (?:to|on)|"
    r"ready to|about to) (?:end|ending) (?:everything|things(?! (?:with|between|off)\b))",
    r"(?:cut|slashed|slashing) (?:my|his|her|their) wrists?",
    # Asking how much it takes to die: "what is a lethal dose of tylenol", "how much insulin to kill a person".
    r"(?:lethal|fatal|deadly) (?:dose|amount|overdose)|how (?:much|many) (?:\w+ ){0,3}(?:to|would|will|does it take "
    r"to) (?:kill|die)",
    r"(?:wont|will not|wouldnt|never) be a (?:problem|burden|bother) (?:for|to) (?:anyone|anybody|you|everyone|them|"
    r"us) (?:anymore|any more|much longer|for long|again)",
    # Cuts or burns kept up: "the marks on my thighs ... i do it when the noise in my head gets too loud".
    r"(?:marks|cuts|scars|burns|scratches) on (?:my|his|her|their) (?:thighs?|arms?|wrists?|legs?|stomach|hips?)\b"
    r".{0,100}\b(?:i|he|she|they) (?:do|does|did|keep doing) (?:it|this|them) (?:when|because|to|every)",
    # A warning sign, not "grandma gives away her belongings to her grandchildren" (a gift to someone named).
    r"(?:giving|gave|gives|give) (?:away )?(?:all )?(?:of )?(?:my|his|her|their) (?:stuff|things|belongings|"
    r"possessions)(?: away)?(?! (?:away )?to\b)",
    r"(?:written|wrote|writing) (?:goodbye )?(?:letters|notes?) to (?:my|everyone)",
    r"(?:texted|said|saying|sent) (?:me )?goodbye",
    r"how many \w+(?: \w+)? (?:would it take|does it take|to) (?:to )?(?:die|not wake up|kill|overdose)",
    r"not wake up|(?:easier|better|wish|hope|rather) (?:\w+ ){0,4}(?:didnt|did not|wouldnt|would not|never|dont) wake "
    r"up(?! (?:at|every|with|in the|during|so|early|before|too|at night|feeling)\b)",
    r"(?:driving|drive|crash) (?:my car )?into a (?:tree|wall|truck)",
    r"think(?:ing)? about (?:dying|death) all the time",
    r"(?:overdose|od|overdosed) on purpose|on purpose",
    r"(?:cant|cannot) (?:take|do) (?:it|this) (?:anymore|any more|much longer)|want (?:it|the pain|everything) to "
    r"(?:stop|end)|no one (?:would|will) (?:miss|care)|nobody (?:would|will) (?:miss|care)",
    r"(?:bought|got|have|saved up|stockpil\w*|hoard\w*) (?:a |some |enough )?(?:rope|gun|pills|meds) (?:to|for|so)|"
    r"jump (?:off|from) (?:a |the |our |my |his |her |their )?(?:bridge|building|roof|terrace|balcony|cliff|tower|"
    r"flyover|overpass|window|car park)|(?:hang|hanging) (?:my|him|her)sel(?:f|ves)",
    r"(?:thoughts?|thinking|think) (?:of|about) (?:ending|killing|hurting|harming) (?:it|my|him|her)|"
    r"dont (?:see|have) (?:a |any )?(?:reason|point) (?:to|in) (?:live|living|go on|going on|be here)",
    r"(?:wish|wishing) (?:i|he|she) (?:was|were|could be) dead|(?:want|wants|wanted) to die|kill (?:my|him|her)self",
    # Intent to overdose, not "am I going to overdose if ..." or "I don't want to overdose my child".
    r"(?:thinking (?:of|about)|planning (?:on|to)|plan to|(?<!dont )(?<!not )want to|(?<!dont )wanna|gonna|going to|"
    r"about to) (?:od|oding|overdosing|overdose)(?= (?:on|tonight|today|now|again|soon) | $)|"
    r"(?:have|got) (?:them|my pills|my meds|the pills|all my pills|all my meds) (?:all )?(?:counted|lined|laid) "
    r"(?:out|up)(?! for (?:the|this|next|a) (?:week|month|trip|day)| in (?:a|my|the) (?:pill|dosette))",
)
# Asking for a way to die, not a question about dying at the end of a life (`assess` leaves those out).
WAY_TO_DIE = phrases(
    r"(?:painless|least painful|easy|easiest|quick|quickest|fast|fastest|peaceful|best|surest|simplest|quietest) "
    r"(?:way|ways|method|methods) (?:to die|of dying|to end (?:it|my life))(?! (?:\w+ ){0,2}(?:hair|roots|beard|"
    r"fabric|clothes|eggs?|shirts?|shoes|wool|yarn|cotton|jeans|leather|easter)\b)"
)
END_OF_LIFE = phrases(
    r"hospice|palliative|with dignity|terminally ill|terminal (?:illness|cancer)|end of life|in (?:my|your|their|his|"
    r"her|our) sleep|of old age"
)
# The asker speaking of themselves: an end-of-life word then no longer makes a way to die a question about others.
FIRST_PERSON = phrases(r"i|im|ive|id|me|myself|tonight")
# Someone not waking, not someone who wakes tired or late.
NOT_WAKING = phrases(
    r"(?:is|isnt|s|are|arent) not waking(?: up)?|(?:isnt|arent|not) waking up|(?:wont|cant|doesnt) wake (?:him|her|"
    r"them)? ?up|(?:baby|he|she|husband|wife|mother|father|mom|mum|dad|son|daughter|child|grandma|grandpa) (?:no|not) "
    r"wake up"
)
SLEEP_CONTEXT = phrases(
    r"refreshed|rested|alarms?|for (?:school|work|class|feeds?|feedings?)|on time|in time|early|sleep (?:disorder|"
    r"apnea|apnoea|study)|insomnia|oversleep\w*|tired|groggy"
)

# A fever, or a temperature that is no normal reading ("temperature taken, 36.8", "a temp of 99").
_FEVER = (
    r"(?:fever|(?:high |a )?(?:temp|temperature)\b(?! (?:taken|check\w*|reading|(?:of |is |was |at )?(?:3[0-7]|9[0-9])\b))|"
    r"feels? (?:really |very )?(?:hot|warm)|burning up|(?:3[89]|4[0-2])(?: \d)? (?:c|degrees|under|in (?:the|his|her) "
    r"(?:arm|ear|mouth|bottom)|orally|rectal\w*|armpit)|10[0-5](?: \d)? (?:f|degrees))"
)

RED_FLAG = phrases(
    # chest
    r"chest (?:pain|pains|pressure|tightness|tight|heaviness|heavy|hurts?|hurting|squeez\w*|crushing|burning)",
    r"(?:pain|pains|pressure|tightness|heaviness|squeezing|crushing|hurts?|ache|aching) in (?:the )?(?:middle of )?"
    r"(?:my|his|her|their|the) chest",
    r"(?:pressure|weight|elephant|something heavy|heavy)(?: \w+){0,3} on (?:my|his|her|the) chest",
    r"(?:my|his|her) chest (?:is |feels |feel )?(?:tight|heavy|hurts?|hurting|crushing|pounding|on fire)",
    r"(?:arm|jaw|shoulder) (?:pain|aches?|hurts?|numb)\w* (?:and|with|plus) (?:sweat\w*|chest|clammy|short of breath)",
    r"chest\b.{0,60}\bpain (?:goes|go|going|spreads?|spreading|radiat\w*|moves?|moving) (?:up |down )?(?:to|into|down) "
    r"(?:my |his |her |the )?(?:jaw|left arm|arm|neck|back)",
    r"(?:left|right) arm (?:is )?(?:aches?|aching|hurts?|numb|tingl\w*|pain)",
    r"\b(?:jaw|(?:left )?(?:fore)?arm|shoulder)s?\b(?: and (?:my |his |her )?(?:jaw|(?:left )?(?:fore)?arm|shoulder))?"
    r"(?: \w+){0,3} (?:ache\w*|ached|pain\w*|hurt\w*|heavy)\b.{0,60}\b(?:clammy|cold sweat|sweaty|sweating|"
    r"short of breath|breathless|grey|gray)",
    # breathing
    r"(?:cant|cannot|can not|could not|couldnt|unable to|hard to|struggling to|struggle to|hardly|barely|trouble|"
    r"difficulty|problems?|fighting to|gasping to) (?:to )?(?:breathe?|breathing|catch (?:my|his|her|their) breath|"
    r"get (?:air|a breath|enough air)|get a sentence out|finish (?:a|her|his|my) sentences?|speak)",
    r"not breathing|stopped breathing|isnt breathing|wasnt breathing|barely breathing|gasping for (?:air|breath)",
    r"breathing (?:really |very |super )?(?:fast|hard|funny|strange|weird|loud|shallow)",
    r"short(?:ness)? of breath (?:at rest|sitting|lying|even|suddenly|and (?:chest|dizzy|faint))",
    r"(?:lips|face|skin|fingers|fingertips|tongue) (?:are |is |look |looks |going |turning |turned |gone )?"
    r"(?:kinda |kind of |a bit |slightly )?(?:blue|grey|gray|purple)",
    r"(?:skin|ribs) (?:is )?sucking in|sucking in (?:under|between) (?:the|his|her) ribs",
    r"chok\w* on|(?:is|are|was) choking(?! (?:with|from) laugh\w*| back (?:tears|laugh\w*))|choking and|choked on|cant cough|cant cry",
    r"(?:throat|tongue|lips?|mouth|face)(?: \w+){0,4} (?:closing|swelling|swollen|swelled|puffy|tight|tightening)",
    r"(?:cant|cannot|unable to|trouble|difficulty) swallow\w*(?! (?:it|them|pills?|tablets?|capsules?|the (?:pills?|"
    r"tablets?|capsules?))\b)(?: (?:and|or|her|his|my|saliva|spit))?|drooling and",
    r"swelling (?:of|in) (?:my|his|her|the) (?:throat|tongue|lips|mouth)",
    r"hives (?:all over|everywhere|and)|covered in hives",
    r"inhaler (?:isnt|is not|not) (?:working|helping|doing anything)",
    r"(?:inhaler|inhalers|puffer|puffs|nebuli[sz]er)\b.{0,30}\b(?:havent|hasnt|didnt|dont|doesnt|arent|not|isnt|"
    r"never) (?:helped|helping|help|worked|working|work|done anything|made (?:a|any) difference)",
    # stroke and the brain
    r"face (?:is |was |started |keeps |looks |seems )?(?:drooping|droopy|drooped|crooked|lopsided|numb)",
    r"(?:mouth|smile) (?:is |looks |looked )?(?:crooked|droop\w*|lopsided|uneven)",
    r"(?:half|one side) of (?:his|her|my|their|the) (?:face|smile|mouth) (?:is |has |was )?(?:gone|droop\w*|dropped|"
    r"fallen|slack|frozen|not moving|numb|going down|gone down|went down|hanging|sagging)",
    r"(?:talking|speech|speaking|words) (?:is |are )?(?:not clear|unclear)",
    r"slurred|slurring|garbled|talking funny|speaking funny|"
    r"words (?:are |were |keep )?(?:came |come |coming )?(?:out )?(?:all )?(?:jumbled|wrong|mixed|muddled)|"
    r"cant (?:get (?:the|her|his|my) words out|find (?:the|my|his|her) words)",
    r"(?:arm|leg|hand|side) (?:is |went |goes |feels |has gone )?(?:numb|weak|dead|limp|heavy|paralyzed|paralysed)",
    r"(?:arm|leg|hand) (?:wont|will not|doesnt|does not|cant) (?:work|move|lift)|cant (?:lift|move|feel) "
    r"(?:my|his|her|their) (?:arm|leg|hand|left|right)",
    r"(?:sudden(?:ly)?|all of a sudden) (?:numb\w*|weak\w*|paraly\w*|confus\w*|blind\w*|dizz\w*|"
    r"(?:loss|lost) of (?:vision|sight|balance)|(?:cant|cannot) (?:see|speak|talk|walk|understand))",
    r"(?:words|answers|talking|speaking|speech|sentences) (?:\w+ ){0,3}(?:make|made|making) no sense|gibberish",
    r"(?:curtain|shadow) (?:came |coming |has come )?(?:down )?over|lost (?:the )?vision|cant see out of",
    r"worst headache|thunderclap|headache (?:is |was )?(?:the worst|like being hit|came on suddenly|exploded)",
    r"(?:is|hes|shes|seems|became|got|getting|gone|went|now|suddenly|really|very|and) (?:really |very |so |more )?"
    r"(?:confused|disoriented)|not mak(?:ing|in) sense|mumbling|talking nonsense|doesnt know (?:where|what day|who)|"
    r"acting (?:drunk|strange|weird)|keeps asking the same",
    # consciousness
    r"unconscious|unresponsive|not responding|wont respond|isnt responding|not moving|wont wake|cant wake|"
    r"will not wake|hard to wake|wont stay awake|(?:passed|passing|passes) out|blacked out|collapsed(?! lung)|"
    r"fainted and|keeled over|(?:lost|losing|loses|loss of) consciousness|slumped (?:over|against|in (?:the|a|his|her|my|their) (?:car|chair|seat|bed|bath|"
    r"toilet|shower)|on the (?:floor|ground|sofa|couch|table|desk|steering wheel))|no pulse|"
    r"(?:doesnt|does not|didnt|did not|wont|will not|isnt) (?:move|moving|respond\w*|react\w*) when (?:we|i|you|they|"
    r"he|she) (?:shout|call|shake|talk|touch|poke|nudge)\w*|lying face down\b.{0,40}\b(?:not|doesnt|wont|hour|"
    r"minutes)|cant (?:feel|find) a pulse|heart (?:has )?stopped|floppy",
    # Someone else down on the floor: "through the window we can see her lying on the kitchen floor".
    r"(?:she|he|her|him|they|them|mum|mom|mother|dad|father|grandma|gran|grandad|grandpa|nan|neighbou?r|husband|"
    r"wife|partner)(?: is| was| s)? (?:lying|laying|lay|collapsed|found) (?:on|in) (?:the|her|his|their) (?:\w+ )?"
    r"(?:floor|ground)",
    r"(?:having|had|has|is having|just had|in the middle of) (?:a |another |his first |her first |my first |"
    r"their first )?seizure|seizure (?:for|that|lasting|wont|will not|isnt|is not|and (?:hes|shes|wont|cant|not))|"
    r"first (?:ever )?seizure(?! clinics?\b)|(?:fit|seizure|convulsion|shaking)\b.{0,40}\b(?:going|lasting|lasted|gone) "
    r"(?:on )?(?:for )?(?:\d+|five|ten|fifteen) (?:minutes|mins)|"
    r"(?:seizures?|fits?|convulsions?) (?:of |over |longer than |more than |beyond |past )(?:\d+|five|ten) (?:minutes|mins?)\b|"
    r"seizing|convulsing|fitting|(?:shaking|jerking) and (?:shaking|jerking)|(?:shaking|jerking) (?:uncontrollably|"
    r"all over|and (?:wont|cant|not) stop)",
    # asking whether to call for help or go in, about something happening
    r"(?:should|do|must) (?:i|we) (?:\w+ )?(?:call (?:911|999|112|an ambulance|for help)|go (?:in|to (?:the )?(?:er|"
    r"emergency|hospital|a&e)))|wait (?:till|until) (?:morning|tomorrow)",
    # blood
    r"(?:coughing|coughed|cough|vomiting|vomited|throwing up|threw up|spitting|spit) (?:up )?(?:bright red |dark |"
    r"some |a lot of |lots of )?blood",
    r"blood (?:in|when i) (?:my |his |her )?(?:vomit|throw up)|coffee grounds",
    r"(?:black|tarry|tar) (?:and (?:sticky|tarry) )?(?:stool|poop|poo|stools)|(?:stool|poop|poo) (?:is |was )?"
    r"(?:black|tarry|like tar)",
    r"bleeding (?:heavily|a lot|badly|everywhere|profusely|wont stop|that wont stop|will not stop|doesnt stop|"
    r"non stop|nonstop)|(?:wont|will not|doesnt|cant|cannot) stop (?:the )?bleeding|(?:heavy|severe|uncontrolled|"
    r"profuse|lots of|so much) bleeding|pouring (?:out )?blood|blood (?:is )?(?:pouring|gushing|spurting|everywhere)",
    r"soak\w* (?:through )?(?:a |one )?(?:pad|pads|tampon|towel)",
    r"(?:blood|bleeding) (?:after|from) (?:giving birth|delivery|birth)|(?:water broke|waters broke)\b.{0,40}\b"
    r"(?:cord|green|bleeding)|(?:baby|fetus) (?:isnt|is not|stopped|hasnt|has not) (?:moving|kicking)",
    r"(?:bone|bones) (?:is |are )?(?:sticking|poking) (?:out|through)|(?:deep|large|big|gaping) (?:cut|wound|gash)"
    r"\b.{0,40}\b(?:bleed\w*|wont stop|spurting)|(?:been|was|got|were|is|just) (?:stabbed|shot)|"
    r"gunshot|stab wound|impaled|amputat\w*|cut off",
    r"(?:car|motorcycle|bike) (?:accident|crash)\b.{0,60}\b(?:hurts?|pain|bleed\w*|cant move|unconscious|neck|back)|"
    r"(?:cant|cannot) (?:move|feel) (?:my|his|her|their) (?:legs|arms|feet|body)",
    r"(?:lost|losing|no) (?:control of )?(?:bladder|bowel)s? (?:control )?\b.{0,40}\b(?:back|numb|legs)|"
    r"(?:numb|numbness) (?:between|in) (?:my|the) (?:legs|groin|inner thighs)",
    r"(?:no|not any|hasnt had a|hasnt had any) (?:wet )?(?:diapers|nappies)|hasnt (?:peed|urinated|wet)|"
    r"sunken (?:eyes|soft spot|fontanelle)|(?:soft spot|fontanelle) (?:is )?bulging|(?:limp|lethargic|listless)",
    r"(?:purple|dark) (?:spots|rash|blotches|blotchy)|(?:blotchy|mottled) (?:purple|skin)|(?:knees|skin|legs) "
    r"(?:look |looks |are |is )?(?:blotchy|mottled)|mottling|new (?:onset )?(?:delirium|confusion)|acutely confused",
    r"fruity breath|(?:sugar|glucose|blood sugar|bs|bg) (?:is |reads |reading |at |of )?(?:hi\b|over (?:4|5|6)\d\d|"
    r"[4-9]\d\d|[1-3]\d)\b",
    r"(?:chemical|bleach|acid|lye)\b.{0,30}\b(?:eye|eyes|splash\w*)|(?:splash\w*|spray\w*)\b.{0,30}\b"
    r"(?:chemical|bleach|acid) in (?:my|his|her) eyes?",
    r"erection (?:lasting|for|that wont|wont go)|(?:swallowed|ate) (?:glass|a (?:nail|pin|needle|razor))",
    r"(?:allergic|allergy)\b.{0,60}\b(?:breath\w*|throat|swell\w*|wheez\w*|epipen|epinephrine|hives)|"
    r"(?:stung|sting|bite|bitten)\b.{0,60}\b(?:breath\w*|throat|swell\w* (?:up|face|lips|tongue)|hives|dizzy|"
    r"faint|pass out)",
    r"(?:heroin|fentanyl|opioids?|oxy|pills|xanax|alcohol|drunk)\b.{0,60}\b(?:blue|not breathing|wont wake|cant wake|"
    r"unresponsive|passed out|barely breathing|snoring)",
    r"(?:pills|meds|xanax|oxy|sleeping pills)\b.{0,30}\b(?:with|and) (?:alcohol|vodka|wine|beer|drinking)\b.{0,40}"
    r"\b(?:sleepy|wont wake|passed out|breathing)",
    r"(?:passing|passes) out|black(?:ing)? out|fainting (?:spells? )?(?:and|with)|(?:fainted|passed out) (?:twice|again|"
    r"and hit)",
    # poisoning, overdose
    r"(?:i|he|she|they|we|you|someone|friend|just|has|have|think (?:i|he|she)) overdosed|overdosing|took (?:\d+|too many|a (?:whole |full )?(?:bottle|box|pack|handful)|all (?:of )?(?:my|the|his|her)|"
    r"an entire|double|extra)(?: \w+){0,4} (?:pills?|tablets?|capsules?|meds|dose|doses|of (?:my|his|her|the))",
    r"(?:swallowed|drank|ate|ingested|bit into|chewed|licked|sucked on|got into) (?:some |a |an |the |one of "
    r"(?:the|those|my) |a little |part of a |half a |(?:some|all|a few|several|half|a handful|a bunch|one|two|"
    r"three|\d+) of (?:(?:the|my|his|her|their|those|\w+s) ){0,2})?(?:\w+ ){0,2}(?:bleach|cleaner|detergent|pods?|battery|"
    r"batteries|button batteries|magnets?|poison|antifreeze|pesticide|weed killer|weedkiller|herbicide|paraquat|drain cleaner|oven cleaner|caustic|lye|paint thinner|gasoline|"
    r"lighter fluid|mushrooms?|berries|pills?|tablets?|meds|medicine|vape|nicotine|chemicals?|rat poison|"
    r"lamp oil|mouthwash|hand sanitizer)(?! whole\b| with (?:food|water|milk)\b| instead\b)",
    r"(?:i|we|he|she|they|been|was|were|got|think (?:i|we|he|she) (?:was|were|got)) poisoned|"
    r"(?:we|everyone|whole family|all of us|family)\b.{0,80}\b(?:fumes|gas (?:heater|leak|stove)|heater|generator|"
    r"carbon monoxide)|(?:fumes|carbon monoxide)\b.{0,60}\b(?:dizzy|headache|sleepy|sluggish|passed out|confused)|"
    r"(?:co|carbon monoxide) (?:alarm|detector) (?:went off|is going off|going off|keeps going off|beeping|sounding)|"
    r"(?:closed|shut|enclosed) garage\b.{0,60}\b(?:engine|exhaust|car) (?:still )?(?:running|on)|"
    r"(?:engine|exhaust|car) (?:still )?running\b.{0,60}\b(?:closed|shut|enclosed) garage",
    r"(?:ingested|swallowed|ate|eaten|chewed|drank) (?:\w+ ){0,5}(?:poisonous|toxic|oleander|foxglove|hemlock|"
    r"nightshade|mushrooms?|berries|plant)",
    r"(?:snorted|injected|smoked) (?:something|\w+) (?:and|now)",
    # injuries, heat, cold, infections, pregnancy
    r"(?:bitten|bit|bite) by a (?:snake|rattlesnake|spider)|snake ?bite|rattlesnake",
    r"(?:electric|electrical) shock|electrocuted|got a shock|shocked by|live wire|exposed wire|power line|high voltage",
    r"(?:hit|banged|bumped|smacked) (?:my|his|her|their) head\b.{0,60}\b(?:vomit\w*|throw\w* up|threw up|sleepy|drowsy|"
    r"confused|passed out|wont wake)",
    r"(?:fell|fall) (?:off|down|from)\b.{0,60}\b(?:hit (?:my|his|her) head|not moving|cant move|wont wake|unconscious)",
    # A scald that took the skin: "the kettle tipped over her arm, the skin is peeling off".
    r"(?:kettle|boiling (?:water|oil)|hot (?:water|oil|fat|tea|coffee|soup)|scald\w*|chip pan|deep fryer)\b.{0,80}\b"
    r"(?:skin (?:is |was )?(?:peel\w*|coming off|came off|blister\w*|hanging)|blister\w*|peeling)",
    r"(?:skin|burn) (?:is |looks )?(?:white and leathery|leathery|charred|black)|burn\w* (?:all )?over (?:his|her|my)"
    r"|(?:big|large|huge) burn|third degree",
    r"(?:stopped|not|isnt) (?:shivering|sweating)|hot and dry|(?:pulled|dragged) (?:him|her|them)? ?(?:out )?"
    r"(?:of|from) the (?:pool|water|lake|river|sea)|under (?:the )?water for",
    r"stiff neck\b.{0,60}\b(?:fever|rash)|(?:fever|rash)\b.{0,60}\bstiff neck|rash (?:that )?(?:doesnt|does not|wont) fade",
    r"(?:belly|stomach|abdomen|tummy) (?:is )?(?:hard as a board|rigid|hard and swollen)",
    r"(?:sudden|suddenly|worst|excruciating|unbearable|severe|stabbing|ripping|tearing|really bad|terrible)"
    r"(?: \w+){0,3} (?:pain|cramp\w*)(?: \w+){0,5} (?:belly|stomach|abdomen|chest|shoulder blades|testicle|ball|"
    r"balls|groin|head|lower right|right side)",
    r"(?:ball|balls|testicle|testicles|testis) (?:hurts?|pain|is swollen|swelled)\w*",
    # A blood pressure in the severe range (160/110 and up) with a headache, changed sight or a recent birth.
    r"(?:headache|vision|blurr\w*|seeing spots|flashing|chest|confus\w*|gave birth|giving birth|pregnan\w*|"
    r"postpartum)\b.{0,120}\b(?:bp|blood pressure)(?: \w+){0,4} (?:1[6-9]\d|2\d\d) (?:over )?1[1-4]\d\b|"
    r"(?:bp|blood pressure)(?: \w+){0,4} (?:1[6-9]\d|2\d\d) (?:over )?1[1-4]\d\b.{0,120}\b(?:headache|vision|"
    r"blurr\w*|seeing spots|flashing|chest|confus\w*|gave birth|giving birth|pregnan\w*|postpartum)",
    r"(?:after (?:giving birth|birth|delivery|having (?:the|my|a|her) baby)|postpartum|just had (?:a|my|the|her) "
    r"baby)\b.{0,80}\bheadache\b.{0,60}\b(?:vision|blurr\w*|seeing spots|flashing|bp|blood pressure)",
    r"pregnant\b.{0,60}\b(?:bleeding|severe pain|sharp pain|cramping and bleeding|seeing spots|flashing|blurred vision|"
    r"swollen face|water broke|no movement|baby (?:isnt|stopped) moving)",
    r"(?:heart|pulse) (?:is )?(?:racing|going like|pounding)\b.{0,60}\b(?:pass out|faint|dizzy|chest|confus\w*)",
    r"(?:sugar|glucose|blood sugar|bs) (?:reads |is |at |of )?(?:hi|high|over \d+|\d{3})\b.{0,60}\b(?:vomit\w*|"
    r"throwing up|confus\w*|breathing|ketones)",
    r"(?:sugar|glucose|blood sugar) (?:is |at |of |dropped to )?(?:low|\d{2}|[1-3] \d)\b(?! (?:hours?|hrs?|minutes?|"
    r"mins?))(?:.{0,60})\b(?:confus\w*|shaking|"
    r"sweat\w*|passed out|wont wake|acting drunk|cant think)",
    r"(?:baby|newborn|infant) (?:is |who is )?\d+ (?:days?|weeks?)(?: old)?\b.{0,60}\b(?:fever|temp|temperature)",
    r"(?:fever|temp|temperature)\b.{0,60}\b(?:baby|newborn|infant) (?:is )?\d+ (?:days?|weeks?)",
    # A fever under three months (a temperature of 38 C or 100.4 F and up), not a puppy's or "no fever".
    r"(?:\b(?:[12]|one|two) (?:months?|mo)|\b(?:[1-9]|1[0-2]) (?:weeks?|wks?)|\b(?:[1-9]|[1-8]\d) days?) old\b(?! (?:\w+ )?(?:puppy|kitten|dog|"
    r"cat|foal|calf|lamb))(?:(?! no fever| not have a fever| without (?:a )?fever).){0,60}\b" + _FEVER,
    r"newborn\b(?:(?! no fever| without (?:a )?fever).){0,40}\b" + _FEVER,
    # A week's medicines taken at once: "took her whole week's pill organiser".
    r"(?:took|taken|swallowed) (?:\w+ ){0,2}(?:whole|entire|full) (?:weeks?|months?|days?)(?: worth)?(?: of)? "
    r"(?:\w+ ){0,2}(?:pills|meds|medications?|medicines|tablets|pill (?:organi[sz]er|box)|dosette)",
    # An overdose taken, told plainly: "I took an overdose", "took 30 tylenol", "took too much heroin".
    r"(?:took|taken|swallowed|had) (?:an? )?(?:huge |big |massive )?overdose\b|"
    r"(?:took|taken|swallowed|ate) (?:like |about |around |maybe |over )?(?:[1-9]\d+|ten|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|a hundred|a (?:whole |full )?(?:bottle|box|pack|packet|handful|bunch|lot)(?: of)?|all (?:of )?"
    r"(?:my|his|her|their|the|\w+s)) (?!(?:mg|mcg|ml|g|grams?|units?|iu|milligrams?)\b)(?:\w+ ){0,2}(?:"
    + MEDICINES
    + r"|pills?|tablets?|capsules?|meds)\b|"
    r"(?:i|he|she|they|we|someone|friend|son|daughter|brother|sister|husband|wife|boyfriend|girlfriend) (?:just )?"
    r"(?:took|has taken|have taken|used|did|shot|snorted) (?:way )?too much (?:of (?:my|his|her|their|the) )?(?:heroin|"
    r"fentanyl|methadone|morphine|oxy\w*|opioids?|opiates?|xanax|benzos?|insulin|tylenol|paracetamol|acetaminophen|"
    r"lithium|digoxin|sleeping pills|pills|meds|medication|cocaine|meth|ketamine|ghb)|"
    r"(?:od|odd|oded|odeed) on (?:fentanyl|heroin|pills|meds|opioids?|oxy\w*|xanax|tylenol|my|his|her|their)",
    r"(?:snake|rattlesnake|viper|adder|copperhead|cottonmouth|spider|scorpion|black widow|brown recluse|bat) "
    r"(?:just )?(?:bit|bitten|stung)|(?:stung|bitten|bit) by (?:a |an )?(?:snake|rattlesnake|viper|adder|scorpion|"
    r"black widow|brown recluse|bat|stingray|jellyfish|box jellyfish)|(?:bitten|bit|stung)\b.{0,40}\bby\b(?: \w+){0,5} "
    r"(?:snake|rattlesnake|viper|adder|taipan|cobra|krait|copperhead|cottonmouth|scorpion|black widow|brown recluse|"
    r"funnel ?web|redback|stingray|box jellyfish)",
    # Something taken at a club or a party, then hot, twitching, racing or confused.
    r"(?:took|taken|had|drank|dropped|popped) (?:some |a )?(?:something|sumthin|smth|sth|pills?|molly|mdma|ecstasy|"
    r"pingers?|acid)\b.{0,30}\b(?:club|party|festival|rave|gig)\b.{0,80}\b(?:hot|burning up|twitch\w*|shaking|"
    r"heart|confus\w*|sense|seizure|fitting|breath\w*|collapsed)",
    # An aortic dissection's pain: tearing or ripping, or severe and going through to the back.
    r"(?:tearing|ripping) (?:pain|feeling|sensation)\b.{0,40}\b(?:chest|back|belly|abdomen|stomach|shoulder blades)|"
    r"(?:chest|back|belly|abdomen|stomach|pain)\b.{0,40}\b(?:feels?|felt|feeling) like (?:\w+ )?(?:tearing|ripping)|"
    r"(?:severe|sudden|excruciating|worst|unbearable|terrible)\b.{0,20}\bpain\b.{0,40}\bthrough to (?:the |my |his "
    r"|her )?back\b(?! of)",
)

ACUTE_CONDITION = phrases(
    r"heart attacks?|cardiac arrest|myocardial infarction|mi|(?:mini )?strokes?(?! like)|tia|transient ischemic"
    r" attack|brain (?:bleed|hemorrhage|haemorrhage)|subarachnoid",
    r"anaphyla\w*|(?:severe|serious|bad) allergic reactions?|allergic reaction|epi ?pens?|(?:epinephrine|adrenaline) "
    r"(?:auto ?)?(?:injector|pen)s?",
    r"sepsis|septic|septicemia|meningitis|meningococcal",
    r"pulmonary embol\w*|blood clots? in (?:the|my|your|his|her) lungs?|embolism|clots? (?:had |has |have )?(?:travel\w*|"
    r"moved|gone|went|go|goes) (?:to|into) (?:the |my |your |his |her )?lungs?",
    r"aortic dissection|dissection|ruptured aneurysm|aneurysm",
    r"diabetic ketoacidosis|ketoacidosis|dka|hypoglycemia|hypoglycaemia|low (?:blood )?sugars?|insulin shock|diabetic coma",
    r"status epilepticus",
    r"heatstroke|heat stroke|sun stroke|sunstroke|hyperthermia|hypothermia|frostbite",
    r"drowning|dry drowning|near drowning|(?:falls?|fell|fallen|gone|went|goes) through (?:the )?ice",
    r"(?:severe |bad |third degree |serious )?burns?",
    r"ectopic pregnancy|"
    + ECTOPIC_PREGNANCY
    + r"|pre ?eclampsia|preeclampsia|eclampsia|hellp|placental abruption|postpartum hemorrhage",
    r"testicular torsion|torsion",
    r"appendicitis|burst appendix|ruptured appendix|appendix (?:burst|rupture\w*)",
    r"epiglottitis|croup",
    r"collapsed lung|pneumothorax",
    r"asthma attack|severe asthma",
    r"carbon monoxide(?: poisoning)?|poisoning|poison\w*|overdos\w*|alcohol poisoning",
    r"choking|heimlich",
    r"concussion|head injury|skull fracture|spinal (?:cord )?injury",
    r"necrotizing fasciitis|flesh eating|toxic shock|botulism|tetanus|rabies|(?:marine |sea )?toxins?|ciguatera|"
    r"shellfish poisoning|snake ?bites?|bitten",
    r"cardiogenic shock|anaphylactic shock|septic shock|shock",
    r"bowel obstruction|strangulated hernia|cauda equina|priapism",
    r"heart failure (?:attack|exacerbation)|hypertensive (?:crisis|emergency)",
    r"(?:cardiac|heart) arrhythmia|ventricular fibrillation|cpr|first aid|defibrillator|aed",
)

# Asking how to recognise or respond to a condition, explicitly: never outweighed by an informational word.
RESPOND = phrases(
    r"how (?:do|can|would|should|will) (?:i|you|we|one|they|someone|a person) (?:know|tell|recogni[sz]e|spot|"
    r"notice|check|be sure)",
    r"how to (?:tell|know|recogni[sz]e|spot)|tell if|know if|tell the difference|is it (?:a|an)|is this (?:a|an)|"
    r"could (?:this|it|i) (?:be|have)|am i having|(?<!how common )(?<!how rare )are (?:these|those)|do i have",
    r"what (?:does|do|would) (?:a |an |it )?(?:\w+ ){0,3}(?:feel|look|looks|feels|sound) like",
    r"first aid(?! (?:certificate|course|kit|training|class|box|cert|qualification)s?)|what (?:to|should|do|can|must) (?:i |we |you |they |one )?do(?! to prevent)|what should "
    r"(?:i|we|you)(?! know)|"
    r"how (?:do|can|should) (?:i|we|you) (?:help|treat|stop|handle|respond|save|give|use|do|perform|warm|cool)|"
    r"how to (?:use|give|inject)",
    r"how to (?:help|treat|stop|handle|respond|save|give|use|do|perform|warm|cool)",
    r"what (?:exactly |actually )?(?:should|can|must) (?:\w+ ){1,4}do\b(?! to prevent)",
    r"(?:bad|serious) enough|when (?:to|should i|do i) (?:call|go|worry)|should (?:i|we) (?:go|call|wait|worry)",
    r"(?:do|should|must) (?:i|we|you) (?:still )?(?:need to )?(?:go (?:in|to)|call|see a doctor)|is it necessary to go|"
    r"need (?:to go|to be seen)",
)
# Asking about signs or treatment in general: outweighed by an informational word ("what causes", "recovery").
RECOGNISE_OR_TREAT = phrases(
    r"symptoms?|signs?|warning signs?|red flags?|(?:early )?indicators?|how (?:is|are|can|should|do) "
    r"(?:\w+ ){0,4}(?:be )?treated|"
    r"treatments?|treat|treating|emergency|er|911|ambulance|hospital|go in|call"
)

INFORMATIONAL = phrases(
    r"what (?:causes|cause|caused|is the cause)|causes? of|why (?:do|does|did|is|are)|who (?:is|are|gets) (?:at risk|"
    r"more likely)|risk factors?|at risk|more likely|how (?:many|common|often|rare)|statistics|survival rate|"
    r"life expectancy|outlook|prognosis|inherit\w*|hereditary|genetic\w*|runs in (?:the )?famil\w*|genes?",
    r"research|clinical trials?|studies|diagnos\w*|test(?:s|ed|ing)? (?:\w+ )?for|prevent\w*|avoid|recovery|recover|"
    r"detectors?|alarms?|precautions|"
    r"rehab\w*|after (?:a|an|his|her|my|their|having)|difference between|different from|what happens (?:to|in|during)|"
    r"cost|costs|history of|historically|in history|centur(?:y|ies)|in the 1\d00s|death rates?|mortality|deaths|"
    r"(?:over|in) the (?:last|past) (?:\d+|few|several|ten|twenty|thirty) (?:years|decades)|how long (?:does|is) (?:the )?recovery|get(?:ting)? back (?:into|to)|return(?:ing)? to "
    r"(?:work|running|sport|exercise|the gym|driving|normal)",
)
PAST = phrases(
    r"(?:\d+|a|one|two|three|four|five|six|several|few|a few|couple|couple of) (?:years?|months?) (?:ago|back)",
    r"last (?:year|month|week|spring|summer|fall|autumn|winter)|(?:a|one|two|\d+) weeks? ago|back in (?:\w+)|in (?:19|20)\d\d|in the \d0s|"
    r"in the 1\d00s|"
    r"when i was (?:a kid|\d+|young|little)|years ago|as a (?:kid|child)|history of|had (?:a|an) (?:\w+ ){0,2}"
    r"(?:years?|months?) ago",
)
NOW = phrases(
    r"now|right now|just|currently|today|tonight|this (?:morning|afternoon|evening)|minutes? ago|an hour ago|"
    r"hours? ago|since (?:this|last night|yesterday)|again|is having|am having|im having|keeps?|still|"
    # A pain described as it is felt: "has severe pain ... history of high BP" is not a thing of the past.
    r"(?:has|have|is in|am in|im in|with) (?:severe|sudden|really bad|terrible|excruciating|unbearable) pain|"
    r"^ (?:severe|sudden|excruciating|unbearable) pain|feels? like (?:tearing|ripping|crushing|squeezing|an elephant)"
)
HAPPENING = phrases(
    r"(?:is|am|im|are|were|was|be|been|currently|might be|could be|think (?:i|im|he|she|hes|shes|they) (?:am |is |are )?)"
    r" ?having (?:a|an|another)?|just had|going into|went into|gone into|(?:in|into) (?:anaphylactic |septic )?shock"
)

# Caution.
CAUTION = phrases(
    MEDICINES,
    r"\w{3,}(?:statin|pril|sartan|olol|azepam|azolam|oxetine|prazole|profen|cillin|mycin|cycline|floxacin|triptan|"
    r"tidine|dronate|gliptin|glitazone|afil|parin|xaban|codone|morphone|azole|vir|mab|nib|semide|thiazide|dipine|"
    r"tyline|pramine|zodone|peridone|apine|barbital|caine|sone|lone)",
    r"doses?|dosage|dosing|\d+ ?(?:mg|mcg|ml|iu|units?|milligrams?)|how (?:much|many) (?:\w+ ){0,3}(?:can|should|do|"
    r"to) (?:i |you |we |he |she |they )?(?:take|give|use|have of)|safety concerns|precautions|"
    r"(?:is it|are they|is this) (?:\w+ )?safe (?:to (?:take|use|give)|during|while|for (?:kids|children|babies))|"
    r"(?:stop|stopping|quit|quitting|come off|coming off|taper\w*|wean\w*|switch\w*) (?:\w+ ){0,3}(?:using|taking|"
    r"meds|medication|medicine|pills?|patch|the pill)|"
    r"maximum|max (?:amount|dose)|too much|overdo|double up|take two|missed (?:a |my )?(?:dose|pill)|"
    r"cut (?:\w+ ){0,3}in half|split",
    r"interact\w*|together|at the same time|combine|combining|mix|mixing|with (?:my|his|her) (?:\w+ )?(?:meds|"
    r"medication|pills)|on (?:\w+ )?(?:and|with) (?:alcohol|wine|beer)",
    r"side effects?|reactions? to",
    r"allergic to (?:\w+ )?(?:penicillin|sulfa|\w+cillin|\w+mycin|antibiotics?|medication|medicine|drugs?|aspirin|"
    r"ibuprofen|codeine|latex)",
    r"pregnan\w*|trimester|weeks pregnant|expecting a baby|conceive|conceiving|trying for a baby|trying to get "
    r"pregnant|fertility|ivf|breast ?feed\w*|breast ?fed|nursing (?:mother|mom|my)|milk supply|pumping|"
    r"postpartum|miscarriage|morning sickness|pre ?eclampsia|eclampsia|"
    + ECTOPIC_PREGNANCY
    + r"|gestational|prenatal|labou?r|"
    r"delivery|c section|midwife",
    r"child|children|childs|childrens|childhood|juvenile|kids?|kiddo|infants?|bab(?:y|ies)|babys|toddlers?|newborns?|pediatric|"
    r"paediatric|teen|teens|teenager|teenage|adolescents?|preschooler|(?:my|our|his|her) (?:son|daughter|boy|"
    r"girl|grandson|granddaughter|nephew|niece|little one)",
    r"\d+ (?:years?|yr|months?|weeks?|days?) old",
)
# Words that make "children" mean offspring, not a patient: "can a person with X have children?"
_OFFSPRING = phrases(r"(?:have|having|had|want|father|fathering|bear) (?:\w+ )?(?:children|kids|a baby|babies)")
_ADULT_AGE = re.compile(r" (?:1[89]|[2-9]\d|1\d\d) (?:years?|yr) old ")


class DosageRule(str, Enum):
    """What to do with answers that give dosage instructions."""

    FLAG = "flag"  # keep them, marked `caution` (default)
    REJECT = "reject"  # drop them, as the original pipeline did
    OFF = "off"  # no special treatment


@dataclass(frozen=True)
class Assessment:
    """A question's safety level and the pattern families that decided it."""

    level: str
    reasons: tuple[str, ...] = ()


MODEL_PATH = Path(__file__).with_name("safety_model.json")


@lru_cache(maxsize=65536)  # a MEDIQA question is classified once per answer it has
def assess(question: str) -> Assessment:
    """The safety level of a question, with why (`docs/safety-labels.md`): the rules, then the learned model's
    P(emergency) over the question's concepts, for an emergency the rules did not name."""
    if not read_as_english(question):
        return Assessment("emergency", ("not_english: the rules read English only",))
    text = question_text(question)
    ruled = _by_rules(text)
    if ruled.level == "emergency":
        return ruled
    model = load_model(MODEL_PATH)
    found = concepts(text)
    score = logistic(model, found)
    if score >= model["threshold"]:
        weights = model["weights"]
        leading = sorted((name for name in found if weights.get(name, 0.0) > 0), key=lambda n: -weights[n])[:3]
        return Assessment("emergency", (f"concepts: {', '.join(leading)} (score {score:.2f})",))
    return ruled


def _by_rules(text: str) -> Assessment:
    way_to_die = WAY_TO_DIE.search(text) and not (END_OF_LIFE.search(text) and not FIRST_PERSON.search(text))
    if SELF_HARM.search(text) or way_to_die:
        return Assessment("emergency", ("self_harm",))
    red_flag = RED_FLAG.search(text)
    long_past = PAST.search(text) and not NOW.search(text)
    if red_flag and not long_past:
        return Assessment("emergency", ("red_flag: " + red_flag.group(0),))
    if (not_waking := NOT_WAKING.search(text)) and not long_past and not SLEEP_CONTEXT.search(text):
        return Assessment("emergency", ("red_flag: " + not_waking.group(0),))
    condition = ACUTE_CONDITION.search(text)
    if condition and not long_past:
        name = condition.group(0)
        if HAPPENING.search(text) and not INFORMATIONAL.search(text):
            return Assessment("emergency", ("happening_now: " + name,))
        if RESPOND.search(text):
            return Assessment("emergency", ("respond: " + name,))
        if RECOGNISE_OR_TREAT.search(text) and not INFORMATIONAL.search(text):
            return Assessment("emergency", ("recognise_or_treat: " + name,))
    caution = [m.group(0) for m in CAUTION.finditer(text)]
    if _OFFSPRING.search(text):
        caution = [c for c in caution if c not in ("children", "kids", "baby", "babies")]
    if _ADULT_AGE.search(text):
        caution = [c for c in caution if not c.endswith(" old")]
    if caution:
        return Assessment("caution", tuple(f"caution: {c}" for c in dict.fromkeys(caution)))
    return Assessment("safe")


# Instructions to take a specific amount, the kind of text the original pipeline filtered out.
_DOSAGE_INSTRUCTION = re.compile(  # on lower-cased text: much faster than re.IGNORECASE over every answer
    r"\b(?:take|give|use|inject|apply)\b[^.]{0,60}?\b\d+(?:\.\d+)?\s?(?:mg|mcg|µg|g|ml|units?|tablets?|capsules?)\b|"
    r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|µg|ml)\b[^.]{0,40}\b(?:every|once|twice|three times|per day|a day|daily)\b"
)


def gives_dosage_instructions(text: str) -> bool:
    return bool(_DOSAGE_INSTRUCTION.search(text.lower()))


def classify_safety(question: str, answer: str = "", dosage_rule: DosageRule = DosageRule.FLAG) -> str:
    level = assess(question).level
    if level == "safe" and answer and dosage_rule is DosageRule.FLAG and gives_dosage_instructions(answer):
        return "caution"
    return level


# An answer that tells the reader to get urgent help now (`medimind_assets_tests/data/urgent_care_answers.tsv`
# gives the definition and the labelled examples). Shared with evaluation and `medimind ask` (never written twice).
_PLACE = (
    r"(?:the |an? |your |their |his |her )?(?:nearest |local |closest )?(?:emergency (?:room|department|unit|center|"
    r"centre|services)|er\b|ed\b|a&e|a and e|casualty|hospital|urgent care|eye casualty|maternity unit)"
)
_NOW = r"(?:right away|immediately|now|at once|straight away|asap|without delay|urgently|today|tonight|promptly)"
_URGENT = re.compile(
    r"\b(?:call|dial|phone|ring|text) (?:or text )?(?:nhs )?(?:9(?P<dash>[-–—‑ ]?)1(?P=dash)1|999|112|000|111|988|an? ambulance|for an ambulance|"
    r"emergency services|(?:your )?(?:local )?emergency (?:number|services|line)|(?:the )?paramedics|"
    r"poison control|(?:a |the |your )?(?:crisis|suicide|emergency|oncology)[\w ]{0,30}(?:line|lifeline|hotline)|"
    r"samaritans)|"
    rf"\b(?:go|get|head|rush|attend|going|getting|take|bring|drive)(?: \w+){{0,3}}? (?:(?:straight|directly|"
    rf"immediately|now|right away) )?(?:(?:to|into|at|in) )?{_PLACE}|"
    rf"\b(?:checked|seen|assessed|evaluated|examined|treated)(?: \w+){{0,2}} (?:at|in|by) {_PLACE}|"
    r"\b(?:seek|get|needs?|requires?|require|obtain|warrants?) (?:\w+ ){0,2}(?:immediate|urgent|emergency|prompt)"
    r"(?: medical)? (?:care|help|attention|treatment|evaluation|assessment)|"
    rf"\b(?:seek|get|need|reach out for) (?:medical|emergency) (?:help|care|attention|treatment) {_NOW}|"
    r"\b(?:medical emergency|is an emergency|an (?:er|a&e|emergency room) visit|emergency help|emergency care|"
    r"emergency treatment)\b|"
    r"\b(?:contact|reach out to|call or text|text) (?:a |the |your )?(?:crisis|suicide|poison)|"
    rf"\bambulance (?:straight away|now|right away|immediately)|\bcall (?:for )?(?:help|an? ambulance)|"
    rf"\bneeds? (?:an? )?(?:ambulance|paramedics)",
    re.IGNORECASE,
)
# "You do not need to go to the ER", "no need for emergency care", "it is not an emergency".
_NEGATED = re.compile(
    r"\b(?:no need|not need|don'?t need|do not need|doesn'?t need|does not need|won'?t need|not necessary|"
    r"unnecessary|not an emergency|isn'?t an emergency|no reason|not required|rarely need|not (?:usually )?"
    r"(?:urgent|necessary)|did not need|didn'?t need|decided (?:she|he|they) did not|ties up|instead of)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[^.;!?]+[.;!?]?")
# Names and facts that contain the words without the advice: "emergency contraception", "the 911 system".
_NOT_ADVICE = re.compile(
    r"\bemergency (?:contraception|contraceptive|medicine|physician|department visits|room visits?|room physician|"
    r"rooms are)|\b(?:the )?(?:911|988) (?:system|number) (?:was|changed)|\bvisits? were made|"
    r"\b(?:was|were) (?:taken|rushed|admitted)\b|\b(?:stay|stays|stayed|spent)\b[^.]{0,30}\bhospital",
    re.IGNORECASE,
)


def advises_urgent_care(text: str) -> bool:
    """Whether `text` tells the reader to get emergency or immediate medical help now."""
    for clause in _CLAUSE.findall(text):
        match = _URGENT.search(clause)
        if match and not _NOT_ADVICE.search(clause) and not _NEGATED.search(clause[: match.end()]):
            return True
    return False


# What a user is shown with an answer (`medimind ask`, `medimind serve`).
EMERGENCY_NOTICE = (
    "This may be an emergency. Call your local emergency number (911 in the US, 112 in Europe, 999 in the UK) or "
    "go to the nearest emergency department now. If you are thinking about harming yourself, call or text 988 "
    "(US) or your local crisis line."
)
CAUTION_NOTICE = (
    "Check with a doctor, pharmacist or midwife before acting on this: the right answer depends on the person, "
    "their age, pregnancy and other medicines."
)


def with_safety_notice(level: str, answer: str) -> str:
    """The answer as the user sees it: the emergency notice first, or the caution notice last."""
    if level == "emergency":
        return f"{EMERGENCY_NOTICE}\n\n{answer}"
    if level == "caution":
        return f"{answer}\n\n{CAUTION_NOTICE}"
    return answer
