"""seas review in headless Chromium (Playwright): accept, reject, undo, reload, filter, sort; then later stages."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.evaluate.downstream import generated_pairs
from seas.generate.outputs import finished_pairs
from seas.review.decisions import read_decisions
from seas.review.server import ReviewServer


def _tree(root: Path) -> Path:
    """A pair tree of two types, three pairs each, with scores (no model needed to review)."""
    tree = root / "pairs" / "widget"
    rng = np.random.default_rng(0)
    for folder in ("crack", "hole"):
        lines = []
        for index in range(3):
            stem = f"{index:04d}"
            for kind in ("image", "mask", ".records"):
                (tree / folder / kind).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                tree / folder / "image" / f"{stem}.png"
            )
            mask = np.zeros((32, 32), np.uint8)
            mask[8 : 12 + 4 * index, 8:16] = 255
            Image.fromarray(mask).save(tree / folder / "mask" / f"{stem}.png")
            (tree / folder / ".records" / f"{stem}.json").write_text("{}")
            scores = {"on_object": 1.0 - 0.25 * index, "change_ratio": 1.0 + index}
            lines.append(
                json.dumps(
                    {"index": index, "image": f"image/{stem}.png", "mask": f"mask/{stem}.png", "scores": scores}
                )
            )
        (tree / folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return tree


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ReviewServer]:
    server = ReviewServer(_tree(tmp_path), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _browser_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert found, "the review test needs Chromium (.ci/run installs it: apt-get install chromium)"
    return found


def test_accept_reject_undo_and_reload_in_a_browser_then_later_stages_use_the_accepted(served: ReviewServer) -> None:
    from playwright.sync_api import sync_playwright

    def decisions_on_page(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
        return page.eval_on_selector_all(
            ".pair", "cards => Object.fromEntries(cards.map(c => [c.dataset.key, c.dataset.decision]))"
        )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_browser_path(), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(served.url)
        page.wait_for_selector("body[data-ready=yes]")
        assert page.locator(".pair").count() == 6
        assert "6 pairs: 0 accepted, 0 rejected, 6 not decided" in page.inner_text("#status")
        page.keyboard.press("a")  # crack/0 accepted, the cursor moves on
        page.keyboard.press("r")  # crack/1 rejected
        page.keyboard.press("u")  # ... undone
        page.keyboard.press("r")  # crack/1 rejected again
        page.keyboard.press("a")  # crack/2 accepted
        page.keyboard.press("r")  # hole/0 rejected
        page.keyboard.press("u")  # ... undone: hole/0 not decided
        expected = {"crack/0": "accept", "crack/1": "reject", "crack/2": "accept"}
        page.wait_for_selector("body[data-pending='0']", state="attached")  # every key handled and saved
        assert "2 accepted, 1 rejected" in page.inner_text("#status")
        assert read_decisions(served.tree) == {("crack", 0): "accept", ("crack", 1): "reject", ("crack", 2): "accept"}
        page.reload()  # a closed tab loses nothing
        page.wait_for_selector("body[data-ready=yes]")
        assert decisions_on_page(page) == {**dict.fromkeys(["hole/0", "hole/1", "hole/2"], "none"), **expected}
        page.select_option("#type", "hole")
        page.select_option("#sort", "change_ratio")
        page.check("#descending")
        order = page.eval_on_selector_all(".pair", "cards => cards.map(c => c.dataset.key)")
        assert order == ["hole/2", "hole/1", "hole/0"]  # filtered to one type, highest score first
        page.locator(".pair").first.click()  # the keys act on the page again, from the first card: hole/2
        page.keyboard.press("a")
        page.wait_for_function("document.querySelector('#status').textContent.includes('3 accepted')")
        page.select_option("#show", "accept")
        assert page.eval_on_selector_all(".pair", "cards => cards.map(c => c.dataset.key)") == ["hole/2"]
        browser.close()
    assert read_decisions(served.tree) == {
        **{
            (f, i): d for (f, i), d in {("crack", 0): "accept", ("crack", 1): "reject", ("crack", 2): "accept"}.items()
        },
        ("hole", 2): "accept",
    }
    # The evaluation and the exports see the accepted pairs only; undecided ones are left out too.
    assert [(p.folder, p.index) for p in finished_pairs(served.tree, {"crack": 3, "hole": 3})] == [
        ("crack", 0),
        ("crack", 2),
        ("hole", 2),
    ]
    assert [image.name for image, _ in generated_pairs(served.tree, ["crack", "hole"])] == [
        "0000.png",
        "0002.png",
        "0002.png",
    ]


def test_a_mask_painted_in_the_browser_is_saved_as_a_new_file_generate_accepts(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from seas.generate.user_masks import check_user_masks
    from seas.review.painting import MaskPainter

    rng = np.random.default_rng(1)
    normals = []
    for k in range(2):  # not square: the page shows them cropped to the run's 32 px as generation does
        normals.append(tmp_path / f"normal_{k}.png")
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(normals[-1])
    out = tmp_path / "painted"
    (out / "hole").mkdir(parents=True)
    theirs = np.zeros((32, 32), np.uint8)
    theirs[1:3, 1:3] = 255
    Image.fromarray(theirs).save(out / "hole" / "0000.png")  # the user's own file: never replaced
    before = (out / "hole" / "0000.png").read_bytes()
    server = ReviewServer(_tree(tmp_path), port=0, painter=MaskPainter(normals, 32, ["crack", "hole"], out))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_browser_path(), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(server.url)
            page.click("#paint")  # the review page links to the painter
            page.wait_for_selector("body[data-ready=yes]", state="attached")
            assert page.eval_on_selector("#normal", "img => img.naturalWidth") in (0, 32)
            page.wait_for_function("document.querySelector('#normal').naturalWidth === 32")
            page.click("#save")  # nothing painted yet: refused, nothing written
            page.wait_for_function("document.querySelector('#error').textContent.includes('empty')")
            page.select_option("#type", "hole")
            box = page.locator("#mask").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.5 * box["height"])
            page.mouse.down()
            page.mouse.move(box["x"] + 0.75 * box["width"], box["y"] + 0.5 * box["height"], steps=8)
            page.mouse.up()
            painted = int(page.get_attribute("body", "data-painted") or 0)
            assert painted > 16  # a stroke across half the picture, 3 px wide
            page.click("#save")
            page.wait_for_selector("body[data-saves='1']", state="attached")
            assert "hole: 2 masks saved" in page.inner_text("#status")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (out / "hole" / "0000.png").read_bytes() == before
    (saved,) = check_user_masks(out, ["hole"], 32)["hole"][1:]  # what seas generate --mask-source checks
    assert saved.name == "0001.png"
    mask = np.asarray(Image.open(saved))
    assert int((mask > 0).sum()) == painted
    rows = np.nonzero(mask.any(axis=1))[0]
    assert 13 <= rows.min() <= rows.max() <= 18  # drawn across the middle row, where the stroke went
    assert not (out / "crack").exists()  # the refused save wrote nothing
