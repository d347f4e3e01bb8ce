"""A Responses request as the chat conversation that is scored, and its output as the answer:
what converts, what is refused with a reason, and where the certainty fields land."""

import pytest

from server.responses.convert import NotAConversation, answer_choice, apply, chat_request

from .fakes import message_item, response


def test_sampling_fields_become_the_chat_requests_for_the_fallback():
    chat = chat_request({"input": "hi", "max_output_tokens": 9, "temperature": 0, "top_p": None, "stream": True}, "m")
    assert chat == {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "temperature": 0}


@pytest.mark.parametrize(
    "payload, why",
    [
        ({"input": "hi", "instructions": ["be brief"]}, "'instructions'"),
        ({"input": []}, "'input'"),
        ({"input": [{"role": "tool", "content": "42"}]}, "role 'tool'"),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input_file"),
        ({"input": [{"role": "user", "content": {"text": "hi"}}]}, "no text content"),
        ({"input": ["hi"]}, "type 'str'"),
        ({"input": "hi", "conversation": "conv_1"}, "'conversation'"),
    ],
)
def test_what_is_not_a_text_conversation_is_refused_with_the_reason(payload, why):
    with pytest.raises(NotAConversation, match=why):
        chat_request(payload, "m")


def test_the_answer_is_the_text_of_every_message_item_and_lands_on_the_last():
    answer = response(message_item("Paris", item_id="msg_1"), message_item(" is the capital.", item_id="msg_2"))
    index, choice, refused = answer_choice(answer)
    assert (index, choice["message"]["content"], refused) == (1, "Paris is the capital.", None)
    top = apply(answer, index, {**choice, "certainty": 0.7}, "Paris is the capital.")
    assert top == {"certainty": 0.7, "output_index": 1, "item_id": "msg_2"}
    assert answer["output"][1]["certainty"] == 0.7 and "certainty" not in answer["output"][0]
    assert answer["output"][1]["content"][0]["text"] == " is the capital."  # not replaced: not guarded
