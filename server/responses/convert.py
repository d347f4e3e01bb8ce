"""A Responses API exchange as the chat conversation the certainty package scores, and back.

The request's ``instructions`` become a system message and its ``input`` (a string, or message
items whose content is a string or text parts) the conversation, as vLLM itself turns them into
a chat prompt. The answer is the text of the output's ``output_text`` parts (what the SDK calls
``response.output_text``), cut off when the response is ``incomplete``. What cannot be turned into
a conversation (images, files, tool items, a ``previous_response_id`` whose turns vLLM keeps) is
said in a ``certainty_error``; nothing is scored on a guess.
"""

from __future__ import annotations

from ..certainty import FIELD, CertaintyError

#: The message roles of the Responses API's input items, as the chat template knows them.
ROLES = frozenset({"user", "system", "developer", "assistant"})
#: Content parts that hold plain text (an earlier answer sent back as input holds ``output_text``).
TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
#: Request fields that say the conversation is stored upstream, not sent.
STORED = ("previous_response_id", "conversation")
#: Responses request fields -> the chat request fields the fallback model is asked with.
CHAT_FIELDS = {
    "max_output_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "user": "user",
}
#: The choice fields that are the answer itself, not what scoring and the guard added.
ANSWER_FIELDS = ("index", "message", "finish_reason")
#: Chat usage keys -> Responses usage keys.
USAGE_KEYS = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens", "total_tokens": "total_tokens"}


class NotAConversation(Exception):
    """The request's input cannot be scored as a chat conversation (the message says why)."""


def chat_request(payload: dict, model: str) -> dict:
    """The chat request that the Responses request ``payload`` amounts to (for the scorer and the
    fallback); raises ``NotAConversation`` when its input is not plain text messages."""
    for field in STORED:
        if payload.get(field) is not None:
            raise NotAConversation(f"'{field}': the earlier turns are stored upstream, not sent, so not scored.")
    messages = []
    instructions = payload.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif instructions is not None and not isinstance(instructions, str):
        raise NotAConversation("'instructions' is not a string.")
    given = payload.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list) and given:
        messages.extend(_message(item) for item in given)
    else:
        raise NotAConversation("'input' is neither a string nor a list of message items.")
    chat = {"model": model, "messages": messages}
    chat.update({CHAT_FIELDS[k]: v for k, v in payload.items() if k in CHAT_FIELDS and v is not None})
    return chat


def _message(item: object) -> dict:
    if not isinstance(item, dict) or item.get("type", "message") != "message":
        kind = item.get("type") if isinstance(item, dict) else type(item).__name__
        raise NotAConversation(f"an input item of type '{kind}' is not a text message.")
    role, content = item.get("role"), item.get("content")
    if role not in ROLES:
        raise NotAConversation(f"an input message has the role {role!r}.")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise NotAConversation("an input message has no text content.")
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in TEXT_PARTS or not isinstance(part.get("text"), str):
            raise NotAConversation(f"an input content part of type '{kind}' is not text.")
        texts.append(part["text"])
    # vLLM renders several text parts of one message joined by newlines; the scorer sees the same.
    return {"role": role, "content": "\n".join(texts)}


def answer_choice(response: dict) -> tuple[int | None, dict, CertaintyError | None]:
    """The output item that holds the answer (its index; ``None``: no message item), the answer as
    a chat choice for the scorer and guard, and why it cannot be scored beyond chat's own rules."""
    output = response.get("output")
    items = [(i, item) for i, item in enumerate(output if isinstance(output, list) else ()) if isinstance(item, dict)]
    messages = [(i, item) for i, item in items if item.get("type") == "message"]
    parts = [p for _, item in messages for p in item.get("content") or () if isinstance(p, dict)]
    text = "".join(p["text"] for p in parts if p.get("type") == "output_text" and isinstance(p.get("text"), str))
    message: dict = {"role": "assistant", "content": text}
    if not text and any(item.get("type") not in ("message", "reasoning") for _, item in items):
        message["tool_calls"] = [{}]  # tool calls only: chat's ``tool_calls`` rule
    finish = "length" if response.get("status") == "incomplete" else "stop"  # cut off: chat's ``truncated``
    refused = None
    if any(p.get("type") == "refusal" for p in parts):
        refused = CertaintyError(code="refusal", message="The answer is a refusal; only text answers are scored.")
    index = messages[-1][0] if messages else None
    return index, {"index": 0, "message": message, "finish_reason": finish}, refused


def apply(response: dict, index: int | None, choice: dict, original: str | None) -> dict:
    """Put what scoring and the guard added to ``choice`` on the output message item ``index``
    and in the response's top-level ``certainty`` object, in place; returns that object. An answer
    the guard replaced (abstain, fallback) becomes the item's one ``output_text`` part."""
    fields = {k: v for k, v in choice.items() if k not in ANSWER_FIELDS}
    item = response["output"][index] if index is not None else None
    if item is not None:
        item.update(fields)
        text = choice["message"].get("content")
        if text != original:
            item["content"] = [{"type": "output_text", "text": text or "", "annotations": [], "logprobs": None}]
    top = {**fields, "output_index": index, "item_id": item.get("id") if item else None}
    response[FIELD] = top
    return top


def usage(answer: object, parts) -> dict | None:
    """The Responses usage of the answer (``answer``, vLLM's) plus every scoring and fallback call
    (``parts``, the certainty package's ``Usage``), with ``breakdown`` itemising them."""
    if not isinstance(answer, dict):
        return None
    total = parts.total({chat: answer.get(ours, 0) for chat, ours in USAGE_KEYS.items()})

    def renamed(counts: dict) -> dict:
        return {ours: counts[chat] for chat, ours in USAGE_KEYS.items()}

    breakdown = {part: renamed(counts) for part, counts in total["breakdown"].items()}
    return {**answer, **renamed(total), "breakdown": breakdown}
