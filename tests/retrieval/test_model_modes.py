"""`cl2cm eval --model` (student and teacher) and `cl2cm search` on tiny models loaded through load_model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from cl2cm.artifacts.captions import Caption, write_captions
from cl2cm.artifacts.manifest import Manifest
from cl2cm.artifacts.store import load_store, save_store
from cl2cm.models import TextEncoderConfig, load_model
from cl2cm.models.student import Student, StudentConfig
from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
from cl2cm.retrieval.metrics import compute_ranks, gallery_index, retrieval_metrics
from cl2cm.retrieval.search import top_k

GERMAN = ["ein Hund rennt über die Wiese", "zwei Kinder spielen im Sand", "eine Frau fährt Fahrrad",
          "ein Mann kocht in der Küche", "eine Katze schläft auf dem Sofa", "drei Männer spielen Fußball"]
ENGLISH = ["a dog runs across the meadow", "two children play in the sand", "a woman rides a bike",
           "a man cooks in the kitchen", "a cat sleeps on the sofa", "three men play football"]
IMAGES = [f"img{i}.jpg" for i in range(6)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("world")
    torch.manual_seed(0)
    text = TextEncoderConfig(encoder=str(tiny_bert_dir), dim=16, train_layers="all", max_length=32)
    Student(StudentConfig(text=text, head="mlp", visual_dim=12, hidden=16, visual_model={"name": "tiny-vit"})
            ).save(root / "student", Manifest(kind="student"))
    CrossLingualTeacher(TeacherConfig(text=text)).save(root / "teacher", Manifest(kind="teacher"))
    save_store(root / "feats", torch.randn(6, 12), IMAGES, Manifest(kind="features", model={"name": "tiny-vit"}))
    save_store(root / "other-feats", torch.randn(6, 12), IMAGES, Manifest(kind="features",
                                                                          model={"name": "ViT-B-32"}))
    # two German captions per image (k = 0, 1), one English caption per caption id
    de = [Caption(f"{im}#{k}", im, "de", f"{t}{' heute' if k else ''}") for k in (0, 1)
          for im, t in zip(IMAGES, GERMAN, strict=True)]
    write_captions(root / "test.de.jsonl", de)
    write_captions(root / "test.en.jsonl", [Caption(c.id, c.image, "en", ENGLISH[IMAGES.index(c.image)] +
                                                    (" today" if c.id.endswith("#1") else "")) for c in de])
    write_captions(root / "mt.en.jsonl", [Caption(c.id, c.image, "en", "machine " + c.text) for c in de])
    imgs = root / "imgs"
    imgs.mkdir()
    for i, im in enumerate(IMAGES):
        Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(imgs / im)
    return {"root": root, "student": root / "student", "teacher": root / "teacher", "feats": root / "feats",
            "other": root / "other-feats", "de": root / "test.de.jsonl", "en": root / "test.en.jsonl",
            "mt": root / "mt.en.jsonl", "imgs": imgs}


def test_student_eval_matches_direct_encoding_and_saved_stores(world: dict[str, Path], tmp_path: Path, cli,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Eval loads a saved BERT student without transformers (`lite`) and encodes exactly as the full model."""
    from cl2cm import models
    from cl2cm.models.bert_lite import BertLite

    loaded: list[torch.nn.Module] = []
    monkeypatch.setattr(models, "load_model", lambda *a, **k: loaded.append(load_model(*a, **k)) or loaded[-1])
    m1, emb = tmp_path / "m1.json", tmp_path / "emb"
    code, stdout, err = cli(["eval", "--model", str(world["student"]), "--captions", str(world["de"]),
                             "--features", str(world["feats"]), "--out", str(m1), "--save-embeddings", str(emb),
                             "--device", "cpu"])
    assert code == 0, err
    assert "eval (model)" in stdout
    model = load_model(world["student"])
    texts = [json.loads(x)["text"] for x in world["de"].read_text().splitlines()]
    q = model.encode_text(texts)
    g = model.encode_store(load_store(world["feats"]))
    idx = gallery_index([im for _ in (0, 1) for im in IMAGES], IMAGES)
    expected = retrieval_metrics(compute_ranks(q, g, idx))
    got = json.loads(m1.read_text())
    assert got["queries"] == 12 and got["gallery"] == 6
    for d in ("t2v", "v2t"):
        for key, value in expected[d].items():
            assert got[d][key] == pytest.approx(value, abs=5e-5 if key == "mAP" else 0.005)  # JSON: rounded
    saved = load_store(emb / "queries", kind="embeddings")
    assert saved.images == [im for _ in (0, 1) for im in IMAGES]
    assert isinstance(loaded[0].text.backbone, BertLite)  # type: ignore[union-attr]
    assert torch.equal(saved.features, q)  # the full transformers model's embeddings, bit for bit
    m2 = tmp_path / "m2.json"
    code, _, err = cli(["eval", "--query-emb", str(emb / "queries"), "--gallery-emb", str(emb / "gallery"),
                        "--out", str(m2), "-q"])
    assert code == 0, err
    assert json.loads(m2.read_text()) == got


def test_teacher_text_mode_and_fusion(world: dict[str, Path], tmp_path: Path, cli) -> None:
    out = tmp_path / "m.json"
    # Shared SE/TE and a "gallery" equal to the queries: each query's own text is its best match.
    code, _, err = cli(["eval", "--model", str(world["teacher"]), "--captions", str(world["de"]),
                        "--gallery-captions", str(world["de"]), "--out", str(out), "-q"])
    assert code == 0, err
    m = json.loads(out.read_text())
    assert m["t2v"]["R@1"] == 100.0 and m["gallery"] == 12
    code, stdout, err = cli(["eval", "--model", str(world["teacher"]), "--captions", str(world["de"]),
                             "--gallery-captions", str(world["en"]), "--fuse-translation", str(world["mt"]),
                             "--fuse-weight", "0.5", "--out", str(out)])
    assert code == 0, err
    assert "eval (text)" in stdout and json.loads(out.read_text())["queries"] == 12


def test_model_mode_user_errors(world: dict[str, Path], tmp_path: Path, cli) -> None:
    code, _, err = cli(["eval", "--model", str(world["student"]), "--captions", str(world["de"]),
                        "--features", str(world["other"])])
    assert code == 2 and "made with name='ViT-B-32', expected 'tiny-vit'" in err
    code, _, err = cli(["eval", "--model", str(world["teacher"]), "--captions", str(world["de"]),
                        "--features", str(world["feats"])])
    assert code == 2 and "encodes no visual rows" in err
    few = tmp_path / "few.en.jsonl"
    write_captions(few, [Caption("img0.jpg#0", "img0.jpg", "en", "a dog")])
    code, _, err = cli(["eval", "--model", str(world["teacher"]), "--captions", str(world["de"]),
                        "--gallery-captions", str(few)])
    assert code == 2 and (f"11 of 12 queries (--captions {world['de']}) have no row in the gallery "
                          f"(--gallery-captions {few}) (first: 'img1.jpg#0')") in " ".join(err.split())
    assert len(err.strip().splitlines()) == 1


def test_search_table_order_and_html(world: dict[str, Path], tmp_path: Path, cli) -> None:
    query = "ein Hund <b>&amp; rennt"
    page = tmp_path / "sheet" / "hits.html"
    code, stdout, err = cli(["search", "--model", str(world["student"]), "--features", str(world["feats"]),
                             query, "--k", "3", "--root", str(world["imgs"]), "--html", str(page)])
    assert code == 0, err
    model = load_model(world["student"])
    scores, idx = top_k(model.encode_text([query]), model.encode_store(load_store(world["feats"])), 3)
    listed = [line.split("│")[2].strip() for line in stdout.splitlines() if line.startswith("│")]
    assert listed == [IMAGES[i] for i in idx[0].tolist()]
    text = page.read_text()
    assert "ein Hund &lt;b&gt;&amp;amp; rennt" in text and "<b>" not in text.split("<body>")[1]
    rel = os.path.relpath(world["imgs"] / IMAGES[idx[0, 0]], page.parent)
    assert f'src="{Path(rel).as_posix()}"' in text
    code, _, err = cli(["search", "--model", str(world["student"]), "--features", str(world["feats"]), query,
                        "--k", "3", "--root", str(world["imgs"]), "--html", str(page), "--embed-images", "-q"])
    assert code == 0 and "data:image/jpeg;base64," in page.read_text()
    code, _, err = cli(["search", "--model", str(world["student"]), "--features", str(world["feats"]), query,
                        "--k", "7"])
    assert code == 2 and "--k 7: must be between 1 and the gallery size (6)" in err


@pytest.mark.parametrize("chunk", [1, 2, 5, 100])
def test_top_k_matches_stable_full_sort(chunk: int) -> None:
    g = torch.Generator().manual_seed(0)
    gallery = torch.randint(-1, 2, (40, 3), generator=g).float()  # many exact ties
    query = torch.randint(-1, 2, (7, 3), generator=g).float()
    scores, idx = top_k(query, gallery, 9, chunk=chunk)
    full = query @ gallery.T
    ref = torch.sort(full, dim=1, descending=True, stable=True).indices[:, :9]
    assert torch.equal(idx, ref) and torch.equal(scores, full.gather(1, ref))


def test_teacher_text_mode_on_real_multi30k(world: dict[str, Path], multi30k_slice: Path, tmp_path: Path,
                                            cli) -> None:
    """Multi30K test_2016 as shipped (aligned text + image list; the committed 100-line slice), ids paired."""
    en = multi30k_slice / "test_2016_flickr.en"
    out, ranks = tmp_path / "m.json", tmp_path / "ranks.jsonl"
    code, _, err = cli(["eval", "--model", str(world["teacher"]), "--captions", str(en), "--gallery-captions",
                        str(en), "--out", str(out), "--ranks", str(ranks), "-q"])
    assert code == 0, err
    m = json.loads(out.read_text())
    assert m["queries"] == 100 and m["gallery"] == 100
    # the same sentence on both sides: only a duplicated sentence can tie with (and, pessimistically, beat) it
    assert m["t2v"]["R@1"] >= 99.0 and m["t2v"]["MedR"] == 1.0
    first = json.loads(ranks.read_text().splitlines()[0])
    assert first["query"] == first["target"] and first["query"].endswith("#0")


FRENCH = ["un chien court dans le pré", "deux enfants jouent dans le sable", "une femme fait du vélo",
          "un homme cuisine", "un chat dort sur le canapé", "trois hommes jouent au football"]


def _french(root: Path) -> Path:
    """French queries, one per image, as a Multi30K-style plain file (language from the .fr suffix)."""
    (root / "q.txt").write_text("".join(f"{im}\n" for im in IMAGES))
    (root / "q.fr").write_text("".join(f"{t}\n" for t in FRENCH))
    return root / "q.fr"


def test_several_captions_give_one_section_per_language_and_the_mean(world: dict[str, Path], tmp_path: Path,
                                                                     cli) -> None:
    fr = _french(tmp_path)
    single = {}
    for code, path in (("de", world["de"]), ("fr", fr)):
        out = tmp_path / f"{code}.json"
        assert cli(["eval", "--model", str(world["student"]), "--captions", str(path), "--features",
                    str(world["feats"]), "--out", str(out), "-q"])[0] == 0
        single[code] = json.loads(out.read_text())
        assert set(single[code]) == {"t2v", "v2t", "SumR", "queries", "gallery"}  # one file: today's schema
    both, ranks = tmp_path / "both.json", tmp_path / "ranks.jsonl"
    code, stdout, err = cli(["eval", "--model", str(world["student"]), "--captions", str(world["de"]),
                             "--captions", str(fr), "--features", str(world["feats"]), "--out", str(both),
                             "--ranks", str(ranks), "--device", "cpu"])
    assert code == 0, err
    m = json.loads(both.read_text())
    assert list(m) == ["de", "fr", "mean"]
    assert m["de"] == single["de"] and m["fr"] == single["fr"]  # each section = that language's own run
    mean = m["mean"]
    # the mean of the (2-decimal) sections, itself rounded to 2 decimals
    assert mean["SumR"] == pytest.approx((single["de"]["SumR"] + single["fr"]["SumR"]) / 2, abs=0.005)
    assert mean["t2v"]["R@5"] == pytest.approx((single["de"]["t2v"]["R@5"] + single["fr"]["t2v"]["R@5"]) / 2,
                                               abs=0.005)
    assert mean["queries"] == 12 + 6 and mean["gallery"] == 6 and mean["languages"] == ["de", "fr"]
    rows = [line.split("│")[1].strip() for line in stdout.splitlines() if line.startswith("│")]
    assert [r for r in rows if r] == ["de", "fr", "mean"]  # the rich table: one row per language + mean
    lines = [json.loads(x) for x in ranks.read_text().splitlines()]
    assert {x["lang"] for x in lines} == {"de", "fr"}
    assert sum(x["lang"] == "fr" and x["direction"] == "t2v" for x in lines) == 6
    # the library takes the same several sources
    import cl2cm

    assert cl2cm.evaluate(load_model(world["student"]), captions=[world["de"], fr], features=world["feats"]) == m


def _unknown(root: Path) -> Path:
    """A TSV file (records' language 'und') with no .<lang> suffix: its language cannot be told."""
    (root / "queries.tsv").write_text("".join(f"{im}#0\tq {i}\n" for i, im in enumerate(IMAGES)))
    return root / "queries.tsv"


def test_several_captions_fusion_per_language_and_errors(world: dict[str, Path], tmp_path: Path, cli) -> None:
    fr = _french(tmp_path)
    base = ["eval", "--model", str(world["teacher"]), "--captions", str(world["de"]), "--captions", str(fr),
            "--gallery-captions", str(world["en"])]
    fused, alone = tmp_path / "fused.json", tmp_path / "alone.json"
    assert cli([*base, "--fuse-translation", f"de={world['mt']}", "--out", str(fused), "-q"])[0] == 0
    assert cli(["eval", "--model", str(world["teacher"]), "--captions", str(world["de"]), "--gallery-captions",
                str(world["en"]), "--fuse-translation", str(world["mt"]), "--out", str(alone), "-q"])[0] == 0
    got = json.loads(fused.read_text())
    assert got["de"] == json.loads(alone.read_text())  # fusion applied to de only, as a de-only run does
    assert got["fr"]["queries"] == 6
    keyed = tmp_path / "keyed.json"  # the LANG=FILE form beside one --captions file: as the plain file
    assert cli(["eval", "--model", str(world["teacher"]), "--captions", str(world["de"]), "--gallery-captions",
                str(world["en"]), "--fuse-translation", f"de={world['mt']}", "--out", str(keyed), "-q"])[0] == 0
    assert json.loads(keyed.read_text()) == json.loads(alone.read_text())
    code, _, err = cli(["eval", "--model", str(world["teacher"]), "--captions", str(world["de"]),
                        "--gallery-captions", str(world["en"]), "--fuse-translation", f"fr={world['mt']}"])
    assert code == 2 and "--fuse-translation fr=...: --captions is in 'de', not 'fr'" in err
    for extra, needle in (
        (["--fuse-translation", str(world["mt"])], "--fuse-translation: 1 file(s) for 2 --captions"),
        (["--fuse-translation", f"xx={world['mt']}"], "--fuse-translation xx=...: no --captions file is in 'xx' "
                                                       "(they are de, fr)"),
        (["--captions", str(world["de"])], "are both language 'de'"),
        (["--captions", str(_unknown(tmp_path))], "cannot tell the file's language"),
    ):
        code, _, err = cli([*base, *extra])
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    emb = tmp_path / "emb"
    assert cli(["eval", "--model", str(world["student"]), "--captions", str(world["de"]), "--features",
                str(world["feats"]), "--save-embeddings", str(emb), "-q"])[0] == 0
    code, _, err = cli(["eval", "--query-emb", str(emb / "queries"), "--gallery-emb", str(emb / "gallery"),
                        "--captions", str(world["de"]), "--captions", str(fr)])
    assert code == 2 and len(err.strip().splitlines()) == 1
