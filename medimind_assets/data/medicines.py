"""Medicines, supplements and their kinds, as the safety rules name them (`data/safety.py`): brand and generic
names of the medicines people ask about most, over-the-counter remedies, supplements and herbs, and the words for
medicine in general. A question naming one is a `caution` question; misspellings of the longer names are read
right (`data/safety_text.py` adds them to the words it corrects to).
"""

from __future__ import annotations

import re

# Alternatives of a pattern on normalised text (lower case, no punctuation).
MEDICINES = (
    r"co codamol|co dydramol|bowel prep|ibuprofen|acetaminophen|paracetamol|tylenol|advil|motrin|aleve|naproxen|aspirin|excedrin|benadryl|"
    r"diphenhydramine|zyrtec|cetirizine|claritin|loratadine|allegra|fexofenadine|sudafed|pseudoephedrine|"
    r"phenylephrine|nyquil|dayquil|mucinex|guaifenesin|robitussin|dextromethorphan|pepto|imodium|loperamide|tums|"
    r"antacids?|laxatives?|miralax|dulcolax|melatonin|unisom|midol|orajel|hydrocortisone|neosporin|monistat|"
    r"antibiotics?|antihistamines?|antidepressants?|antivirals?|antifungals?|steroids?|corticosteroids?|statins?|"
    r"blood thinners?|anticoagulants?|beta blockers?|opioids?|painkillers?|pain (?:killers?|relievers?|meds)|"
    r"birth control|the pill|contraceptive\w*|plan b|morning after pill|iud|depo|nexplanon|insulin|epinephrine|"
    r"amoxicillin|augmentin|penicillin|azithromycin|zpack|z pack|doxycycline|cipro|ciprofloxacin|levofloxacin|"
    r"cephalexin|keflex|bactrim|sulfa|metronidazole|flagyl|clindamycin|nitrofurantoin|macrobid|valacyclovir|"
    r"valtrex|acyclovir|tamiflu|paxlovid|fluconazole|diflucan|metformin|glipizide|januvia|jardiance|farxiga|"
    r"ozempic|wegovy|mounjaro|zepbound|semaglutide|tirzepatide|trulicity|victoza|saxenda|lisinopril|losartan|"
    r"amlodipine|metoprolol|atenolol|propranolol|carvedilol|hydrochlorothiazide|hctz|furosemide|lasix|"
    r"spironolactone|atorvastatin|lipitor|simvastatin|rosuvastatin|crestor|pravastatin|warfarin|coumadin|"
    r"eliquis|apixaban|xarelto|rivaroxaban|clopidogrel|plavix|digoxin|nitroglycerin|levothyroxine|synthroid|"
    r"prednisone|prednisolone|methylprednisolone|medrol|dexamethasone|omeprazole|prilosec|pantoprazole|"
    r"nexium|esomeprazole|famotidine|pepcid|ranitidine|zantac|sertraline|zoloft|fluoxetine|prozac|escitalopram|"
    r"lexapro|citalopram|celexa|paroxetine|paxil|venlafaxine|effexor|duloxetine|cymbalta|bupropion|wellbutrin|"
    r"trazodone|mirtazapine|remeron|amitriptyline|nortriptyline|lithium|lamotrigine|lamictal|quetiapine|seroquel|"
    r"aripiprazole|abilify|risperidone|olanzapine|clonazepam|klonopin|alprazolam|xanax|lorazepam|ativan|"
    r"diazepam|valium|zolpidem|ambien|buspirone|hydroxyzine|gabapentin|neurontin|pregabalin|lyrica|tramadol|"
    r"oxycodone|percocet|hydrocodone|vicodin|norco|codeine|morphine|fentanyl|methadone|suboxone|buprenorphine|"
    r"naloxone|narcan|naltrexone|adderall|ritalin|methylphenidate|vyvanse|concerta|strattera|sumatriptan|"
    r"imitrex|topiramate|topamax|levetiracetam|keppra|phenytoin|dilantin|carbamazepine|tegretol|valproate|"
    r"depakote|methotrexate|humira|hydroxychloroquine|plaquenil|allopurinol|colchicine|finasteride|tamsulosin|"
    r"flomax|sildenafil|viagra|tadalafil|cialis|accutane|isotretinoin|retinol|retinoids?|tretinoin|spironolactone|"
    r"clomid|letrozole|progesterone|estrogen|estradiol|testosterone|hrt|patch|albuterol|ventolin|inhalers?|singulair|"
    r"montelukast|flonase|fluticasone|nasal sprays?|eye drops|vaccines?|flu shot|shots?|iron (?:pills|tablets|"
    r"supplements)|folic acid|prenatal\w*|vitamins?|vit [a-z0-9]+|supplements?|fish oil|omega 3|turmeric|"
    r"ashwagandha|st johns wort|valerian|echinacea|elderberry|ginkgo|ginseng|kratom|cbd|thc|magnesium|zinc|"
    r"calcium|potassium|probiotics?|herbs?|herbal|creatine|caffeine pills|diet pills|laxative teas?|"
    r"lactulose|senna|senokot|movicol|trimethoprim|chlorhexidine|iodine contrast|contrast (?:dye|agent|medium)|"
    r"anaesthetics?|anesthetics?|colloidal silver|teething gel|gripe water|medications?|medicines?|meds|pills?|tablets?|prescriptions?|"
    r"drugs?"
)
# The plain names in it, for spelling correction.
MEDICINE_WORDS = frozenset(w for w in re.split(r"[|()?:\s]+", MEDICINES) if w.isalpha() and len(w) >= 6)
