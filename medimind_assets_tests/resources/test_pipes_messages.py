"""The local launcher reads each Pipes message once its line is whole: a large message written in chunks (the
training report with its loss-curve image) must never reach `json.loads` half written."""

import json
import threading
import time

from dagster import PipesFileMessageReader

from medimind_assets.resources.pipes_messages import _WholeLineFileReader, whole_lines


def _written_in_chunks_then_read(path, messages: list[dict], chunk_sizes, pause_s: float = 0.0) -> list[dict]:
    """What `whole_lines` reads of `messages` while another thread appends them in chunks of `chunk_sizes()`."""
    path.write_text("")
    done = threading.Event()

    def write() -> None:
        with open(path, "a", encoding="utf-8") as handle:
            for message in messages:
                line = json.dumps(message, ensure_ascii=False) + "\n"
                cut = 0
                while cut < len(line):
                    step = chunk_sizes()
                    handle.write(line[cut : cut + step])
                    handle.flush()
                    cut += step
                    time.sleep(pause_s)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    read = [json.loads(line) for line in whole_lines(str(path), done.is_set, poll_s=0.0005)]
    writer.join()
    return read


def test_a_message_written_in_chunks_is_read_whole(tmp_path):
    messages = [{"method": "report", "params": {"image": "x" * 50_000, "n": n}} for n in range(3)]
    # As a buffered writer flushes a long line.
    assert _written_in_chunks_then_read(tmp_path / "messages", messages, lambda: 4096, pause_s=0.002) == messages


def test_the_reader_replaces_the_method_dagster_reads_with():
    """A rename in Dagster would leave the override unused (and the race back): this says so."""
    assert "_reader_thread" in vars(PipesFileMessageReader)
    assert _WholeLineFileReader._reader_thread is not PipesFileMessageReader._reader_thread


def test_any_chunking_of_any_messages_is_read_whole(tmp_path):
    import random

    rng = random.Random(3)
    for trial in range(5):
        messages = [{"n": n, "text": "é" * rng.randint(0, 20_000)} for n in range(rng.randint(1, 6))]
        read = _written_in_chunks_then_read(tmp_path / f"messages-{trial}", messages, lambda: rng.randint(1, 9000))
        assert read == messages
