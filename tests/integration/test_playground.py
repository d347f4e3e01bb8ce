"""The playground page in a real headless Chromium (Debian's, driven by Playwright) against the
real tiny stack: answers stream in and get the certainty the API gives the same conversation,
the guard's badges, unscored answers, several choices, the scoring mode, the API key, the
snippets, and never an error in the browser's console."""

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import CONVERSATIONS, conversation

CHROMIUM = Path("/usr/bin/chromium")
# Debian's build, as the issue asks: Playwright's own browser download is not reachable here.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Milliseconds to wait for an answer of the tiny model on CPU (answer and scoring).
ANSWER_MS = 120_000
#: Room enough for any answer of the tiny model to end by itself (a cut-off one is not scored).
MAX_TOKENS = "200"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's chromium is not at {CHROMIUM}: `make browser` (part of make test) installs it",
)


@dataclass
class Browsing:
    """A page and what went wrong in it: console errors and uncaught exceptions."""

    page: object
    errors: list[str] = field(default_factory=list)

    def open(self, url: str) -> None:
        """Load the playground at ``url`` and wait until it has asked for the models."""
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready]")

    def settle(self, fields: dict[str, str]) -> None:
        """Fill settings fields, found by their labels as a person finds them."""
        for label, value in fields.items():
            self.page.get_by_label(label, exact=True).fill(value)

    def ask(self, question: str):
        """Type ``question``, press Enter, and wait for the answer to finish; its locator."""
        box = self.page.get_by_label("Your message")
        box.fill(question)
        box.press("Enter")
        answer = self.page.locator(".turn.assistant").last
        answer.and_(self.page.locator("[data-state=done], [data-state=error]")).wait_for(timeout=ANSWER_MS)
        return answer


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browsing(browser):
    """A fresh browser context (empty localStorage) at a desktop width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    seen = Browsing(page)
    page.on("console", lambda msg: msg.type == "error" and seen.errors.append(msg.text))
    page.on("pageerror", lambda exc: seen.errors.append(f"uncaught: {exc}"))
    yield seen
    context.close()


def route_scoring(sdk, question: str, answer: str, documents=None):
    """The ``uncertainty`` intrinsic's answer for (question, answer): certainty and usage."""
    extra = {"documents": documents} if documents else None
    resp = sdk.chat.completions.create(model="uncertainty", messages=conversation(question, answer), extra_body=extra)
    return json.loads(resp.choices[0].message.content)["certainty"], resp.usage


def shown_percent(chip) -> int:
    return int(chip.locator(".chip-value").inner_text().removesuffix("%").strip())


def test_an_answer_streams_in_with_the_certainty_the_api_gives_it(browsing, stack, sdk, tmp_path):
    page = browsing.page
    browsing.open(f"{stack.url}/")
    browsing.settle({"Temperature": "0", "Max tokens": MAX_TOKENS})
    question = CONVERSATIONS[0][0]
    answer = browsing.ask(question)
    choice = answer.locator(".choice").first
    assert answer.get_attribute("data-state") == "done", answer.inner_text()
    text = choice.locator(".answer-text").text_content()
    assert text.strip() and int(choice.get_attribute("data-chunks")) > 1  # rendered chunk by chunk

    certainty, usage = route_scoring(sdk, question, text)
    chip = choice.locator(".chip")
    assert float(chip.get_attribute("data-certainty")) == pytest.approx(certainty, abs=1e-9)
    assert abs(shown_percent(chip) - certainty * 100) <= 0.5
    tier = "high" if certainty >= 0.7 else "medium" if certainty >= 0.4 else "low"
    assert chip.get_attribute("data-tier") == tier and tier in chip.inner_text().lower()

    chip.click()  # what the value means, the timing and the tokens, from usage.breakdown
    info = choice.locator(".chip-info")
    assert info.is_visible()
    p = shown_percent(chip)
    assert f"of answers given {p} %, about {p} % are right" in info.inner_text()
    assert "answer:" in info.inner_text() and "more (at" in info.inner_text()
    tokens = f"certainty: {usage.total_tokens} ({usage.prompt_tokens} prompt + {usage.completion_tokens} completion)"
    assert tokens in info.inner_text()
    page.screenshot(path=tmp_path / "playground.png", full_page=True)

    # The tiers are the page's settings: "high" from just below this certainty makes it high.
    browsing.settle({"Medium from": "0", "High from": f"{math.floor(certainty * 100) / 100:.2f}"})
    assert chip.get_attribute("data-tier") == "high" and "High certainty" in chip.inner_text()
    assert browsing.errors == []


def test_a_threshold_above_the_certainty_with_abstain_shows_the_abstained_badge(browsing, stack, tiny_settings):
    page = browsing.page
    browsing.open(f"{stack.url}/playground")
    browsing.settle({"Temperature": "0", "Max tokens": MAX_TOKENS})
    question = CONVERSATIONS[2][0]
    first = browsing.ask(question).locator(".choice").first
    certainty = float(first.locator(".chip").get_attribute("data-certainty"))
    original = first.locator(".answer-text").text_content()

    page.get_by_role("button", name="New conversation").click()
    page.get_by_label("Action below the threshold").select_option("abstain")
    threshold = math.ceil(certainty * 100 + 1) / 100  # just above it, on the slider's 0.01 steps
    slider = page.locator("#guard-threshold")
    slider.evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", threshold)
    assert page.locator("#guard-threshold-value").inner_text() == f"{threshold:.2f}"
    guarded = browsing.ask(question).locator(".choice").first

    assert guarded.locator(".badge-abstained").is_visible()
    assert guarded.locator(".answer-text").text_content() == tiny_settings.certainty.abstain_message
    assert float(guarded.locator(".chip").get_attribute("data-certainty")) < threshold
    guarded.locator(".original summary").click()
    assert guarded.locator(".original-text").text_content() == original  # the same greedy answer, held back
    assert browsing.errors == []


def test_an_answer_cut_off_says_plainly_that_it_is_not_scored(browsing, stack):
    browsing.open(f"{stack.url}/")
    browsing.settle({"Temperature": "0", "Max tokens": "1"})
    choice = browsing.ask(CONVERSATIONS[1][0]).locator(".choice").first
    chip = choice.locator(".chip")
    assert chip.inner_text() == "not scored: the answer was cut off"
    assert chip.get_attribute("data-tier") == "none" and chip.get_attribute("data-certainty") is None
    assert browsing.errors == []


def test_an_error_of_the_api_is_shown_in_its_own_words(browsing, stack):
    browsing.open(f"{stack.url}/")
    browsing.page.get_by_label("Action below the threshold").select_option("fallback")  # none is configured
    answer = browsing.ask(CONVERSATIONS[0][0])
    assert answer.get_attribute("data-state") == "error"
    error = answer.get_by_role("alert")
    assert "needs a fallback model" in error.inner_text() and "(invalid_request" in error.inner_text()
    # Chromium itself reports the refused request (400); nothing else went wrong.
    assert [e for e in browsing.errors if "status of 400" not in e] == []


def test_several_choices_stand_side_by_side_each_with_its_own_certainty(browsing, stack, sdk):
    browsing.open(f"{stack.url}/")
    # Sampled on purpose: whatever each choice says, its certainty must be the API's for that text.
    browsing.settle({"Temperature": "0.8", "Max tokens": MAX_TOKENS, "Choices (n)": "2"})
    question = CONVERSATIONS[4][0]
    choices = browsing.ask(question).locator(".choice")
    assert choices.count() == 2
    boxes = [choices.nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]
    for i in range(2):
        text = choices.nth(i).locator(".answer-text").text_content()
        certainty, _ = route_scoring(sdk, question, text)
        assert float(choices.nth(i).locator(".chip").get_attribute("data-certainty")) == pytest.approx(certainty)
    assert browsing.errors == []


def test_score_an_answer_mode_gives_the_intrinsics_certainty_with_documents(browsing, stack, sdk):
    page = browsing.page
    browsing.open(f"{stack.url}/")
    page.get_by_role("tab", name="Score an answer").click()
    question, answer = CONVERSATIONS[0]
    page.get_by_label("Question").fill(question)
    page.get_by_label("Answer", exact=True).fill(answer)
    page.get_by_role("button", name="Add a document").click()
    document = "Paris is the capital and largest city of France."
    page.get_by_label("Document text").fill(document)
    page.get_by_role("button", name="Score", exact=True).click()
    result = page.locator("#score-result")
    result.and_(page.locator("[data-state=done], [data-state=error]")).wait_for(timeout=ANSWER_MS)

    certainty, _ = route_scoring(sdk, question, answer, [{"doc_id": "1", "text": document}])
    chip = result.locator(".chip")
    assert float(chip.get_attribute("data-certainty")) == pytest.approx(certainty, abs=1e-9)
    assert abs(shown_percent(chip) - certainty * 100) <= 0.5
    assert browsing.errors == []


def test_the_key_field_opens_a_gateway_that_has_a_key_and_is_remembered(browsing, attach):
    page = browsing.page
    gw = attach(api_key="playground-key")
    browsing.open(f"{gw.url}/")
    banner = page.locator("#banner")
    assert "Missing or invalid API key" in banner.inner_text()  # the API's own message, not a blank page
    assert page.get_by_role("button", name="Send").is_visible()

    key = page.get_by_label("API key")
    key.fill("playground-key")
    key.press("Enter")
    page.wait_for_selector("body[data-ready=true]")
    assert banner.is_hidden()
    browsing.settle({"Temperature": "0", "Max tokens": MAX_TOKENS})
    choice = browsing.ask(CONVERSATIONS[0][0]).locator(".choice").first
    assert choice.locator(".chip").get_attribute("data-certainty") is not None

    page.reload()
    page.wait_for_selector("body[data-ready=true]")  # the key came back from localStorage
    assert key.input_value() == "playground-key" and banner.is_hidden()
    # The one expected console line: Chromium reports the first /v1/models call's 401 itself.
    assert [e for e in browsing.errors if "status of 401" not in e] == []
    assert len(browsing.errors) == 1


def test_the_copied_curl_and_python_snippets_run_the_same_request(browsing, stack, tmp_path):
    page = browsing.page
    browsing.open(f"{stack.url}/")
    browsing.settle({"Temperature": "0", "Max tokens": MAX_TOKENS})
    page.get_by_label("Your message").fill(CONVERSATIONS[0][0])
    snippet = page.locator("#snippet")

    page.get_by_role("button", name="Copy as curl").click()
    curl = subprocess.run(["bash", "-c", snippet.text_content()], capture_output=True, text=True, timeout=120)
    events = [line for line in curl.stdout.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]", curl.stdout + curl.stderr
    assert any('"certainty"' in e for e in events)

    page.get_by_role("button", name="Copy as OpenAI SDK (Python)").click()
    program = tmp_path / "snippet.py"
    program.write_text(snippet.text_content())
    env = {k: v for k, v in os.environ.items() if k != "GRANITE_CERTAINTY_API_KEY"}
    python = subprocess.run([sys.executable, program], capture_output=True, text=True, timeout=120, env=env)
    assert python.returncode == 0, python.stderr
    assert "certainty 0." in python.stdout and "'certainty':" in python.stdout  # the chip's value and the breakdown
    assert browsing.errors == []


def test_the_page_fits_a_phone_and_works_from_the_keyboard(browser, stack):
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{stack.url}/")
        page.wait_for_selector("body[data-ready=true]")
        assert page.evaluate("document.activeElement.id") == "question"  # ready to type at once
        page.keyboard.type(CONVERSATIONS[0][0])
        page.keyboard.press("Enter")
        page.locator(".choice[data-state=done]").wait_for(timeout=ANSWER_MS)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen"
        page.keyboard.press("Tab")  # from the message box, the next stop is the Send button's row
        assert page.evaluate("document.activeElement.id") in ("send", "new-chat")
    finally:
        context.close()
    assert errors == []
