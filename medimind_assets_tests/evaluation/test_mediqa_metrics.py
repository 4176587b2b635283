"""MEDIQA 2019 Task 3 metrics against hand-computed cases, the real ground truth, and the submission format."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from medimind_assets.data.mediqa import parse_mediqa_file
from medimind_assets.evaluation.mediqa_metrics import (
    Judgement,
    format_submission,
    gold_from_questions,
    label_ranking,
    read_judgements,
    score_task3,
    score_task3_official,
    spearman_of_id_strings,
    spearman_rho,
)

J = Judgement
# Q1: correct answers a, b, c (in reference order), incorrect d, e. Q2: correct x, incorrect y, z.
GOLD = [J("1", "a", 1), J("1", "b", 1), J("1", "c", 1), J("1", "d", 0), J("1", "e", 0)]
GOLD += [J("2", "x", 1), J("2", "y", 0), J("2", "z", 0)]
SUBMISSION = [J("1", "c", 1), J("1", "a", 1), J("1", "d", 1), J("1", "b", 0), J("1", "e", 0)]
SUBMISSION += [J("2", "y", 1), J("2", "x", 1), J("2", "z", 0)]


def test_scores_of_a_hand_computed_submission():
    scores = score_task3(SUBMISSION, GOLD)
    # Matching lines: 1c1 1a1 1e0 2x1 2z0 -> 5 of 8 gold rows.
    assert scores.accuracy == pytest.approx(5 / 8)
    # Labelled 1: c a d y x, of which c a x are correct.
    assert scores.precision == pytest.approx(3 / 5)
    # Q1: first correct answer at line 1; Q2: the line-1 answer (y) is wrong, x is at line 2.
    assert scores.mrr == pytest.approx((1 + 1 / 2) / 2)
    # Q1 ranks c before a, gold has a before c: rho = -1. Q2 has one matched answer: undefined, left out.
    assert scores.spearman == pytest.approx(-1.0)
    assert scores.n_spearman_questions == 1
    assert scores.p_at_1 == pytest.approx(1 / 2)
    # Correct answers within the first 5 lines: c, a (Q1) and x (Q2); denominator min(5,3) + min(5,1).
    assert scores.p_at_5 == pytest.approx(3 / 4)
    assert scores.p_at_10 == pytest.approx(3 / 4)
    assert (scores.n_questions, scores.n_answers) == (2, 8)


def test_perfect_and_empty_submissions():
    perfect = score_task3(GOLD, GOLD)
    assert (perfect.accuracy, perfect.precision, perfect.mrr, perfect.spearman) == (1.0, 1.0, 1.0, 1.0)
    nothing = score_task3([], GOLD)
    assert (nothing.accuracy, nothing.precision, nothing.mrr, nothing.spearman) == (0.0, 0.0, 0.0, 0.0)
    # A question with correct answers none of which is labelled 1 scores Spearman 0 (and counts).
    assert nothing.n_spearman_questions == 2


def test_duplicate_lines_keep_the_first_like_the_official_evaluator():
    doubled = [J("1", "d", 0), J("1", "d", 1), *GOLD[:3], *GOLD[4:]]
    scores = score_task3(doubled, GOLD)
    assert scores.accuracy == 1.0  # the second "1,d,1" line is ignored
    assert scores.mrr == pytest.approx((1 / 2 + 1) / 2)  # Q1's first correct line is now line 2


def test_mrr_needs_a_correct_answer_not_just_a_label_1():
    # As in the organisers' final script (an April 2019 version credited the wrong line-1 answer: 1.0).
    wrong_first = [J("2", "y", 1), J("2", "z", 1), J("2", "x", 1)]
    gold = [g for g in GOLD if g.question_id == "2"]
    assert score_task3(wrong_first, gold).mrr == pytest.approx(1 / 3)
    assert score_task3_official(wrong_first, gold).mrr == pytest.approx(1 / 3)


def test_official_scores_of_the_hand_computed_submission():
    official = score_task3_official(SUBMISSION, GOLD)
    # Accuracy, precision and MRR are defined alike; Q1 submits c, a (gold order a, c): alphabetical ranks
    # [1, 0] vs [0, 1], rho = -1; Q2 has one correct answer labelled 1: NaN, left out.
    assert (official.accuracy, official.precision, official.mrr) == pytest.approx((5 / 8, 3 / 5, 3 / 4))
    assert official.spearman == pytest.approx(-1.0)
    assert (official.n_questions, official.n_spearman_questions) == (2, 1)


def test_official_spearman_ranks_answer_id_strings_alphabetically():
    gold = [J("q", "q_A2", 1), J("q", "q_A3", 1), J("q", "q_A1", 1)]
    reversed_order = [J("q", "q_A1", 1), J("q", "q_A3", 1), J("q", "q_A2", 1)]
    # Submitted q_A1 q_A3 q_A2 -> alphabetical ranks [0, 2, 1]; gold order q_A2 q_A3 q_A1 -> [1, 2, 0];
    # sum d^2 = 2, rho = 1 - 6 * 2 / (3 * 8) = 0.5 (positions, our correction, say -1: the exact reverse).
    assert score_task3_official(reversed_order, gold).spearman == pytest.approx(0.5)
    assert score_task3(reversed_order, gold).spearman == pytest.approx(-1.0)
    # Alphabetical, not natural order: "q_A10" sorts before "q_A9".
    assert spearman_of_id_strings(["q_A9", "q_A10"], ["q_A9", "q_A10"]) == pytest.approx(1.0)
    assert spearman_of_id_strings(["q_A9", "q_A10"], ["q_A10", "q_A9"]) == pytest.approx(-1.0)
    assert math.isnan(spearman_of_id_strings(["q_A1"], ["q_A1"]))


def test_official_spearman_leaves_out_questions_with_no_correct_answer_labelled_1():
    # Q1 perfect (rho 1); Q2's only correct answer x is labelled 0.
    submission = [*GOLD[:5], J("2", "y", 1), J("2", "x", 0), J("2", "z", 0)]
    official, ours = score_task3_official(submission, GOLD), score_task3(submission, GOLD)
    assert (official.spearman, official.n_spearman_questions) == (pytest.approx(1.0), 1)  # Q2 is NaN: left out
    assert (ours.spearman, ours.n_spearman_questions) == (pytest.approx(0.5), 2)  # Q2 counts as 0
    assert score_task3_official([], GOLD).spearman == 0.0  # no question with a Spearman at all


def test_official_scores_survive_what_crashes_the_final_script(tmp_path: Path):
    # A header row and a question without any correct answer (both raise there): skipped / MRR 0, no Spearman.
    truth = tmp_path / "truth.txt"
    truth.write_text("question_id,answer_id,label\n1,a,1\n1,b,1\n3,u,0\n3,v,0\n", encoding="utf-8")
    gold = read_judgements(truth)
    official = score_task3_official([J("1", "a", 1), J("1", "b", 1), J("3", "u", 1), J("3", "v", 0)], gold)
    assert official.n_questions == 2 and official.mrr == pytest.approx(0.5) and official.spearman == 1.0
    assert official.accuracy == pytest.approx(3 / 4) and official.precision == pytest.approx(2 / 3)


def test_spearman_compares_positions_not_answer_id_strings():
    gold = [J("q", "q_A2", 1), J("q", "q_A3", 1), J("q", "q_A1", 1)]
    reversed_order = [J("q", "q_A1", 1), J("q", "q_A3", 1), J("q", "q_A2", 1)]
    assert score_task3(reversed_order, gold).spearman == pytest.approx(-1.0)
    # What the 2019 script computes from the same lists: ID strings ranked alphabetically.
    ids = [r.answer_id for r in reversed_order]
    assert spearmanr(ids, [g.answer_id for g in gold])[0] == pytest.approx(0.5)


def test_spearman_rho_matches_scipy_on_permutations():
    rng = random.Random(0)
    for _ in range(50):
        n = rng.randint(2, 9)
        ys = rng.sample(range(20), n)
        assert spearman_rho(list(range(n)), ys) == pytest.approx(spearmanr(range(n), ys)[0])
    with pytest.raises(ValueError):
        spearman_rho([1, 1], [1, 2])


def test_label_ranking_orders_by_score_and_labels_the_top_half():
    scored = [("a1", -2.0), ("a2", -0.5), ("a3", -1.0), ("a4", -3.0), ("a5", -1.0)]
    rows = label_ranking("7", scored)
    assert [(r.answer_id, r.label) for r in rows] == [("a2", 1), ("a3", 1), ("a5", 1), ("a1", 0), ("a4", 0)]
    assert sum(r.label for r in label_ranking("7", scored, positive_fraction=0.2)) == 1
    with pytest.raises(ValueError, match="not finite"):
        label_ranking("7", [("a1", math.nan)])
    with pytest.raises(ValueError, match="positive_fraction"):
        label_ranking("7", scored, positive_fraction=0.0)


def test_submission_file_is_the_official_format(tmp_path: Path):
    path = tmp_path / "run.txt"
    path.write_text(format_submission(SUBMISSION), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == ["1,c,1", "1,a,1", "1,d,1"]  # no header, ranked order
    assert read_judgements(path) == SUBMISSION
    with pytest.raises(ValueError, match="0/1 label"):
        format_submission([J("1", "a", 2)])
    (tmp_path / "broken.txt").write_text("question_id,answer_id,label\n1,a\n", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.txt:2"):
        read_judgements(tmp_path / "broken.txt")


@pytest.mark.parametrize(
    ("xml", "truth"),
    [
        ("MEDIQA2019-Task3-QA-TestSet-wLabels.xml", "QA_testSet_ground_truth_round_2.txt"),
        ("MEDIQA2019-Task3-QA-ValidationSet.xml", "QA_validationSet_ground_truth.txt"),
    ],
)
def test_gold_from_reference_scores_is_the_official_ground_truth(shared_data: Path, xml: str, truth: str):
    root = shared_data / "mediqa2019_qa"
    gold = gold_from_questions(parse_mediqa_file(root / "MEDIQA_Task3_QA" / xml))
    official = read_judgements(root / "Eval_Scripts" / "data" / truth)  # test file has a header, validation not
    assert gold == official
    perfect = score_task3(official, gold)
    assert (perfect.accuracy, perfect.precision, perfect.mrr, perfect.spearman) == (1.0, 1.0, 1.0, 1.0)


def test_real_test_set_scores_of_the_system_ranking(shared_data: Path):
    """CHiQA's own order with every answer labelled 1: accuracy is the share of correct answers (572/1107)."""
    questions = parse_mediqa_file(shared_data / "mediqa2019_qa/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TestSet-wLabels.xml")
    gold = gold_from_questions(questions)
    system = [J(q.qid, a.aid, 1) for q in questions for a in sorted(q.answers, key=lambda a: a.system_rank)]
    scores = score_task3(system, gold)
    assert scores.n_questions == 150 and scores.n_answers == 1107
    assert scores.accuracy == pytest.approx(572 / 1107)
    assert scores.precision == pytest.approx(572 / 1107)
    assert 0.0 < scores.mrr <= 1.0 and -1.0 <= scores.spearman <= 1.0


def test_official_spearman_is_scipys_on_the_id_strings_of_the_real_test_set(shared_data: Path):
    """The final script's own call, `spearmanr(submitted_ids, gold_ordered_ids)`, per question, NaN left out."""
    gold = read_judgements(shared_data / "mediqa2019_qa/Eval_Scripts/data/QA_testSet_ground_truth_round_2.txt")
    rng = random.Random(1)
    answers: dict[str, list[str]] = {}
    for g in gold:
        answers.setdefault(g.question_id, []).append(g.answer_id)
    submission = [row for qid, aids in answers.items() for row in label_ranking(qid, [(a, rng.random()) for a in aids])]
    correct = {(g.question_id, g.answer_id) for g in gold if g.label == 1}
    rhos = []
    for qid in answers:
        submitted = [r.answer_id for r in submission if r.question_id == qid and r.label == 1]
        submitted = [a for a in submitted if (qid, a) in correct]
        in_gold_order = [g.answer_id for g in gold if g.question_id == qid and g.answer_id in submitted]
        if len(submitted) > 1:
            rhos.append(spearmanr(submitted, in_gold_order)[0])
    official = score_task3_official(submission, gold)
    assert official.n_spearman_questions == len(rhos) > 50
    assert official.spearman == pytest.approx(sum(rhos) / len(rhos), abs=1e-12)
    assert official.spearman != pytest.approx(score_task3(submission, gold).spearman, abs=1e-3)
