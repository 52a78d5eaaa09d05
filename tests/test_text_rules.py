"""Each family's text preprocessing equals its reference code, called directly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muge_eval.errors import UsageError
from muge_eval.retrieval.adapters.text_rules import RULES, text_rule

pytest.importorskip("cn_clip")

TEXTS = st.text(alphabet=st.sampled_from(list("“”\"'ABCxyzÀÉ新款黄色 ‘’「」İ")), max_size=20) | st.text(max_size=20)


@settings(deadline=None)
@given(TEXTS)
def test_chinese_clip_rule_is_cn_clips_own(text: str) -> None:
    from cn_clip.eval.data import _preprocess_text

    assert text_rule("chinese-clip")([text]) == [_preprocess_text(text)]
    assert text_rule("none")([text]) == [text]


def test_rules_are_named_and_described() -> None:
    assert text_rule("chinese-clip")(["新款“黄色”NEW"]) == ['新款"黄色"new']
    assert set(RULES["chinese-clip"].describe()) == {"text_preprocess", "text_preprocess_rule"}
    with pytest.raises(UsageError, match="text_preprocess must be one of"):
        text_rule("lowercase")
