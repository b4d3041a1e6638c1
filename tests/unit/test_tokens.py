"""Token estimates and their calibration from provider-reported usage."""

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from memoria.tokens import (
    MAX_SCALE,
    TokenCounter,
    calibrate,
    estimate_prompt_tokens,
    estimate_text_tokens,
    message_text,
)


def test_estimate_counts_characters_and_per_message_overhead():
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("abcd") == 1
    assert estimate_text_tokens("abcde") == 2
    prompt = [SystemMessage("x" * 40), HumanMessage("y" * 8)]
    assert estimate_prompt_tokens(prompt) == 3 + (10 + 4) + (2 + 4)
    assert estimate_prompt_tokens([]) == 0


def test_tool_calls_count_as_text():
    call = AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Bogotá"}, "id": "1"}])
    assert "weather" in message_text(call) and "Bogotá" in message_text(call)
    blocks = HumanMessage(
        [{"type": "text", "text": "hola"}, {"type": "image_url", "image_url": {"url": "x"}}]
    )
    assert message_text(blocks) == "hola"


def test_calibration_converges_towards_the_reported_ratio():
    scale = 1.0
    for _ in range(8):
        scale = calibrate(scale, estimated=100, reported=130)
    assert abs(scale - 1.3) < 0.01


def test_calibration_ignores_missing_usage_and_clamps_outliers():
    assert calibrate(1.2, estimated=100, reported=None) == 1.2
    assert calibrate(1.2, estimated=0, reported=50) == 1.2
    assert calibrate(1.0, estimated=1, reported=10_000) <= MAX_SCALE


def test_counter_applies_the_scale_to_estimates():
    messages = [HumanMessage("z" * 400)]
    assert TokenCounter(object(), scale=1.0).prompt(messages) == 107
    assert TokenCounter(object(), scale=2.0).prompt(messages) == 214
    assert TokenCounter(object(), scale=2.0).text("z" * 400) == 200


class ExactModel:
    def count_prompt_tokens(self, messages):
        return 1000 + len(messages)

    def count_text_tokens(self, text):
        return len(text.split())


def test_counter_prefers_the_models_own_count():
    counter = TokenCounter(ExactModel(), scale=3.0)
    assert counter.exact is not None
    assert counter.prompt([HumanMessage("a b c")]) == 1001
    assert counter.text("a b c") == 3
    assert counter.messages([HumanMessage("a b"), AIMessage("c")]) == (2 + 4) + (1 + 4)
