"""The local launcher reads each Pipes message once its line is whole: a large message written in chunks (the
training report with its loss-curve image) must never reach `json.loads` half written."""

import json
import threading
import time

from dagster import PipesFileMessageReader

from medimind_assets.resources.pipes_messages import _WholeLineFileReader, whole_lines


def test_a_message_written_in_chunks_is_read_whole(tmp_path):
    path = tmp_path / "messages"
    path.write_text("")
    messages = [{"method": "report", "params": {"image": "x" * 50_000, "n": n}} for n in range(3)]
    done = threading.Event()

    def write_slowly() -> None:
        with open(path, "a", encoding="utf-8") as handle:
            for message in messages:
                line = json.dumps(message) + "\n"
                for start in range(0, len(line), 4096):  # as a buffered writer flushes a long line
                    handle.write(line[start : start + 4096])
                    handle.flush()
                    time.sleep(0.002)
        done.set()

    writer = threading.Thread(target=write_slowly)
    writer.start()
    read = [json.loads(line) for line in whole_lines(str(path), done.is_set, poll_s=0.001)]
    writer.join()
    assert read == messages


def test_the_reader_replaces_the_method_dagster_reads_with():
    """A rename in Dagster would leave the override unused (and the race back): this says so."""
    assert "_reader_thread" in vars(PipesFileMessageReader)
    assert _WholeLineFileReader._reader_thread is not PipesFileMessageReader._reader_thread


def test_any_chunking_of_any_messages_is_read_whole(tmp_path):
    import random

    rng = random.Random(3)
    for trial in range(5):
        path = tmp_path / f"messages-{trial}"
        path.write_text("")
        messages = [{"n": n, "text": "é" * rng.randint(0, 20_000)} for n in range(rng.randint(1, 6))]
        done = threading.Event()

        def write(messages=messages, path=path, done=done) -> None:
            with open(path, "a", encoding="utf-8") as handle:
                for message in messages:
                    line = json.dumps(message, ensure_ascii=False) + "\n"
                    cut = 0
                    while cut < len(line):
                        step = rng.randint(1, 9000)
                        handle.write(line[cut : cut + step])
                        handle.flush()
                        cut += step
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        read = [json.loads(line) for line in whole_lines(str(path), done.is_set, poll_s=0.0005)]
        writer.join()
        assert read == messages
