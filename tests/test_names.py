import pytest

from adapterhub.errors import InvalidName
from adapterhub.names import Ref, validate_name


@pytest.mark.parametrize("name", ["sentiment", "ner-v2", "topic_1", "a.b", "x", "0abc"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/b", "..", ".hidden", "a..b", "Upper", "a b", "-x", "x" * 65, "é"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName, match="invalid adapter name"):
        validate_name(name)


def test_refs() -> None:
    assert Ref.parse("sentiment") == Ref("sentiment")
    assert Ref.parse("sentiment@3") == Ref("sentiment", version=3)
    assert Ref.parse("sentiment:prod") == Ref("sentiment", alias="prod")
    assert str(Ref.parse("sentiment@3")) == "sentiment@3"


@pytest.mark.parametrize("text", ["sentiment@", "sentiment@0", "sentiment@x", "../x@1", "a/b:prod", "s:../p", "@1"])
def test_bad_refs_are_refused(text: str) -> None:
    with pytest.raises(InvalidName):
        Ref.parse(text)
