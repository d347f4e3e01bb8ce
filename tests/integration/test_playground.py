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


# --- documents and other intrinsics with the answer -------------------------------------------

RAG_DOCUMENT = "Paris is the capital and largest city of France. It has about two million inhabitants."
#: Model text with markup and a character outside the BMP: shown as text, offsets in characters.
CANNED_ANSWER = "Paris is the capital of France. \U0001f5fc It has <img src=x onerror=alert(1)> two million people."


def canned_intrinsics(text: str) -> dict:
    """What the gateway sends for CANNED_ANSWER with four intrinsics asked: spans at its offsets, a
    label, and one intrinsic that failed."""
    first = text.index(".") + 1  # the first sentence, and the rest after its space
    return {
        "intrinsics": {
            "citations": [
                {
                    "response_begin": 0,
                    "response_end": first,
                    "response_text": text[:first],
                    "citation_doc_id": "d1",
                    "citation_begin": 0,
                    "citation_end": 48,
                    "citation_text": RAG_DOCUMENT[:48],
                }
            ],
            "hallucination_detection": [
                {
                    "response_begin": first + 1,
                    "response_end": len(text),
                    "response_text": text[first + 1 :],
                    "faithfulness": "unfaithful",
                    "explanation": "The document does not say how many people live there.",
                }
            ],
            "answerability": {"answerability": "answerable"},
            "query_rewrite": None,
        },
        "intrinsic_errors": {"query_rewrite": {"code": "scoring_busy", "message": "Every scoring slot is busy."}},
    }


def sse(*events: dict) -> str:
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def canned_stream(text: str) -> str:
    """A streamed answer as the gateway sends it: content in two chunks, then the choice's last
    chunk with its certainty and intrinsics, then usage."""
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "tiny-granite"}
    half = len(text) // 2

    def chunk(delta, **fields):
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None, **fields}]}

    usage = {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}
    return sse(
        chunk({"role": "assistant", "content": text[:half]}),
        chunk({"content": text[half:]}),
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        chunk({}, certainty=0.71, certainty_error=None, **canned_intrinsics(text)),
        {**head, "choices": [], "usage": {**usage, "breakdown": {"answer": usage, "certainty": usage}}},
    )


def span_text(choice, key: str) -> str:
    """The answer's text highlighted for span ``key`` ("citations:0"): its pieces, joined."""
    return "".join(choice.locator(f'mark[data-spans~="{key}"]').all_text_contents())


def tick_intrinsics(page, names) -> None:
    for name in names:
        page.get_by_role("checkbox", name=name, exact=True).check()


def test_intrinsic_results_show_with_the_answer_spans_at_their_offsets(browsing, stack):
    """The page's side of the intrinsics, against a canned answer (routed by the browser): the
    documents and intrinsics are sent, spans are drawn at the offsets received, labels and
    errors are badges, and model text stays text."""
    page = browsing.page
    models = [
        {"id": "tiny-granite", "object": "model", "kind": "base"},
        *(
            {"id": name, "object": "model", "kind": "intrinsic", "parent": "tiny-granite"}
            for name in ("uncertainty", "answerability", "query_rewrite", "citations", "hallucination_detection")
        ),
    ]
    sent = []
    page.route("**/v1/models", lambda route: route.fulfill(json={"object": "list", "data": models}))

    def answer(route):
        sent.append(route.request.post_data_json)
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=canned_stream(CANNED_ANSWER))

    page.route("**/v1/chat/completions", answer)
    browsing.open(f"{stack.url}/")
    offered = page.locator("#chat-intrinsics input[type=checkbox]")
    assert [offered.nth(i).get_attribute("value") for i in range(offered.count())] == [
        "answerability",
        "query_rewrite",
        "citations",
        "hallucination_detection",
    ]  # the served ones, in the page's order; uncertainty is the chip
    page.get_by_role("button", name="Add a document").click()
    page.get_by_label("Document id").fill("d1")
    page.get_by_label("Document text").fill(RAG_DOCUMENT)
    tick_intrinsics(page, ["citations", "hallucination_detection", "answerability", "query_rewrite"])
    choice = browsing.ask("What is the capital of France?").locator(".choice").first

    body = sent[-1]
    assert body["documents"] == [{"doc_id": "d1", "text": RAG_DOCUMENT}]
    assert body["intrinsics"] == ["answerability", "query_rewrite", "citations", "hallucination_detection"]
    assert choice.locator(".answer-text").text_content() == CANNED_ANSWER  # the markup is text, not an image
    assert choice.locator("img").count() == 0
    fields = canned_intrinsics(CANNED_ANSWER)["intrinsics"]
    for name in ("citations", "hallucination_detection"):
        record = fields[name][0]
        # Python's offsets count characters (the emoji is one), as the gateway's do.
        assert span_text(choice, f"{name}:0") == CANNED_ANSWER[record["response_begin"] : record["response_end"]]
    assert choice.get_attribute("data-spans") == "2"
    bad = choice.locator('mark[data-spans~="hallucination_detection:0"]').first
    assert bad.get_attribute("data-faithfulness") == "unfaithful"

    cited = choice.locator('mark[data-spans~="citations:0"]').first
    cited.hover()
    detail = choice.locator(".span-detail")
    assert "Document d1 says:" in detail.inner_text() and RAG_DOCUMENT[:48] in detail.inner_text()
    bad.focus()  # from the keyboard too
    assert "faithfulness: unfaithful" in detail.inner_text()
    assert "does not say how many people" in detail.inner_text()

    badges = {b.get_attribute("data-intrinsic"): b.inner_text() for b in choice.locator(".badge").all()}
    assert badges["answerability"] == "answerability: answerable"
    assert badges["query_rewrite"] == "query_rewrite failed: Every scoring slot is busy. (scoring_busy)"
    assert badges["citations"] == "citations: 1 span"
    assert float(choice.locator(".chip").get_attribute("data-certainty")) == 0.71

    page.get_by_role("button", name="Copy as curl").click()  # the snippet sends what the page sent
    snippet = page.locator("#snippet").text_content()
    assert '"documents":[{"doc_id":"d1"' in snippet and '"intrinsics":["answerability"' in snippet
    assert browsing.errors == []


def test_the_real_stack_highlights_the_citations_at_the_offsets_it_sent(browsing, stack, sdk):
    served = {m.id for m in sdk.models.list().data}
    if "citations" not in served:
        pytest.skip(f"the tiny stack serves no citations intrinsic (it serves {sorted(served)})")
    page = browsing.page
    received = []

    def relay(route):  # the gateway's own answer, passed on as it is, and kept to compare with
        resp = route.fetch()
        received.append(resp.text())
        route.fulfill(response=resp)

    page.route("**/v1/chat/completions", relay)
    browsing.open(f"{stack.url}/")
    browsing.settle({"Temperature": "0", "Max tokens": MAX_TOKENS})
    page.get_by_role("button", name="Add a document").click()
    page.get_by_label("Document text").fill(RAG_DOCUMENT)
    tick_intrinsics(page, [n for n in ("citations", "hallucination_detection", "answerability") if n in served])
    choice = browsing.ask("What is the capital of France?").locator(".choice").first

    events = [json.loads(line[6:]) for line in received[-1].splitlines() if line.startswith("data: {")]
    content = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"] if c["index"] == 0)
    last = next(c for e in events for c in e["choices"] if "intrinsics" in c)
    assert choice.locator(".answer-text").text_content() == content
    citations = last["intrinsics"]["citations"]
    if citations is None:
        assert choice.locator('.badge[data-intrinsic="citations"]').inner_text().startswith("citations failed: ")
    else:
        for i, record in enumerate(citations):
            expected = content[record["response_begin"] : record["response_end"]]
            assert span_text(choice, f"citations:{i}") == expected
    assert browsing.errors == []
