"""The raw sources' observation: data version = content hash of the files, the file table and provenance as
metadata, the pinned download when the files are absent, and bytes that do not parse still observed."""

import shutil

import dagster as dg

from medimind_assets.assets.sources import observe_source, raw_medquad, source_observation
from medimind_assets.data import sources
from medimind_assets.digests import sha256_file
from medimind_assets.resources import MediMindSettings
from medimind_assets_tests.data.test_sources import http_server  # noqa: F401  (fixture)

ALEXA = "MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml"


def observe(raw, key: str = "raw_mediqa_qa") -> dg.ObserveResult:
    settings = MediMindSettings(raw_dir=str(raw), data_dir=str(raw.parent / "out"), download_retries=0)
    return observe_source(dg.build_asset_context(), settings, key)


def test_data_version_is_the_content_hash_and_metadata_names_every_file(sample_copy):
    result = observe(sample_copy)
    snap = sources.snapshot(sample_copy, sources.MEDIQA)
    assert result.asset_key == dg.AssetKey("raw_mediqa_qa")
    assert result.data_version == dg.DataVersion(snap.data_version)
    meta = result.metadata
    alexa = sample_copy / sources.MEDIQA / ALEXA
    assert meta["file_sha256"].value[ALEXA] == sha256_file(alexa)
    assert set(meta["file_sha256"].value) == {f.path for f in snap.files} and meta["file_count"] == len(snap.files)
    assert meta["data_version"] == snap.data_version and meta["downloaded"] is False
    # Our sample is named as ours, never as the upstream dataset (its licence and commit are not the sample's).
    assert meta["origin"].startswith("MediMind's own sample") and "upstream_commit" not in meta
    assert meta["license"].startswith("Apache-2.0") and ALEXA in meta["files"].value
    assert meta["total/correct_answers"] > 0 and "unreadable_files" not in meta
    (sample_copy / sources.SAMPLE_MARKER).unlink()  # the same layout without the marker: upstream files
    upstream = observe(sample_copy).metadata
    assert upstream["origin"] == "upstream"
    assert upstream["upstream_commit"] == sources.upstream_manifest()[sources.MEDIQA]["commit"]
    assert upstream["license"] and "MEDIQA" in upstream["citation"]

    # The same bytes elsewhere: the same version. One new byte: a new one.
    moved = sample_copy.parent / "moved"
    shutil.copytree(sample_copy, moved)
    assert observe(moved).data_version == result.data_version
    alexa.write_bytes(alexa.read_bytes() + b"\n")
    assert observe(sample_copy).data_version != result.data_version


def test_the_sensor_reports_what_an_observation_run_reports(sample_copy):
    run = observe(sample_copy, "raw_medquad")
    event = source_observation("raw_medquad", sources.snapshot(sample_copy, sources.MEDQUAD))
    assert event.asset_key == dg.AssetKey("raw_medquad")
    assert event.tags["dagster/data_version"] == run.data_version.value
    assert event.metadata.keys() == run.metadata.keys()


def test_bytes_that_do_not_parse_are_still_a_version_and_say_why(sample_copy):
    alexa = sample_copy / sources.MEDIQA / ALEXA
    alexa.write_bytes(alexa.read_bytes()[:5000])
    result = observe(sample_copy)
    assert result.data_version == dg.DataVersion(
        sources.snapshot(sample_copy, sources.MEDIQA, counts=False).data_version
    )
    assert "malformed or truncated XML" in result.metadata["unreadable_files"].value


def test_an_absent_source_is_downloaded_by_its_observation(http_server, sample_copy, tmp_path, monkeypatch):  # noqa: F811
    served, url = http_server
    shutil.copytree(sample_copy / sources.MEDQUAD, served / sources.MEDQUAD)
    manifest = pinned_to(sample_copy)
    monkeypatch.setattr(sources, "upstream_manifest", lambda: manifest)
    raw = tmp_path / "empty"
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [raw_medquad],
            selection=[raw_medquad],
            resources={
                "settings": MediMindSettings(
                    raw_dir=str(raw),
                    data_dir=str(tmp_path / "out"),
                    source_urls={sources.MEDQUAD: f"{url}/{sources.MEDQUAD}"},
                )
            },
            instance=instance,
        )
        [record] = instance.fetch_observations(dg.AssetKey("raw_medquad"), limit=1).records
    assert result.success
    observation = record.asset_observation
    assert observation.metadata["downloaded"].value is True
    expected = sources.snapshot(sample_copy, sources.MEDQUAD, counts=False).data_version
    assert observation.tags["dagster/data_version"] == expected


def pinned_to(raw) -> dict:
    """The upstream manifest with MedQuAD pinned to the files of `raw` (a small download for the test)."""
    manifest = {name: dict(entry) for name, entry in sources.upstream_manifest().items()}
    folder = raw / sources.MEDQUAD
    manifest[sources.MEDQUAD]["files"] = {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in folder.rglob("*") if p.is_file()
    }
    return manifest
