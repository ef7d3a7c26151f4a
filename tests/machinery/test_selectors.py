"""Selectors must read strings exactly as apimachinery does; cases follow its tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from machinery import errors, selectors
from machinery.selectors import (
    FieldSelector,
    LabelSelector,
    Operator,
    Requirement,
    escape_field_value,
    format_label_selector,
    is_qualified_name,
    is_valid_label_value,
    label_selector_from_dict,
    label_selector_from_set,
    parse_field_selector,
    parse_label_selector,
    selector_to_string,
)


def test_exported_members() -> None:
    for name in selectors.__all__:
        assert hasattr(selectors, name), name


def test_package_exports_the_whole_selector_api() -> None:
    # The package repeats its modules' public names as a literal list (what
    # pyflakes and type checkers read); this keeps the two from drifting.
    from machinery.selectors import fields, labels

    assert set(labels.__all__) | set(fields.__all__) <= set(selectors.__all__)


@pytest.mark.parametrize("text,canonical", [
    ("x=a", "x=a"),
    ("y==b", "y==b"),
    ("x!=a", "x!=a"),
    ("  x  =  a  ", "x=a"),
    ("x=a,y!=b", "x=a,y!=b"),
    ("y!=b,x=a", "x=a,y!=b"),  # sorted by key
    ("x in (b,a)", "x in (a,b)"),
    ("x in (a,a,b)", "x in (a,b)"),  # a set
    ("x notin (a)", "x notin (a)"),
    ("x in ()", "x in ()"),
    ("x in (a,)", "x in (,a)"),
    ("x in (,,)", "x in ()"),
    ("x", "x"),
    ("!x", "!x"),
    ("  !  x  ", "!x"),
    ("x=", "x="),
    ("x=,z= ", "x=,z="),
    ("x>1", "x>1"),
    ("x<10", "x<10"),
    ("in in (in)", "in in (in)"),
    ("notin notin (notin)", "notin notin (notin)"),
    ("example.com/app=web", "example.com/app=web"),
    ("a=b\t,\nc", "a=b,c"),
    ("x in(a) , y notin(b)", "x in (a),y notin (b)"),
])
def test_label_selector_round_trip(text: str, canonical: str) -> None:
    sel = parse_label_selector(text)
    assert str(sel) == canonical
    assert str(parse_label_selector(canonical)) == canonical


@pytest.mark.parametrize("text,message", [
    ("x=a||y=b", "unable to parse requirement: values[0][x]: Invalid value: \"a||y\""),
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x=a,", "found '', expected: identifier after ','"),
    (",x=a", "found ',', expected: !, identifier, or 'end of string'"),
    ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("x in (a b)", "found 'b', expected: ',' or ')'"),
    ("x in a", "found 'a' expected: '('"),
    ("x in ((", "found '(', expected: ',', ')' or identifier"),
    ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
    ("x=(a)", "found '(', expected: identifier"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("!", "found '', expected: identifier"),
    ("a/b/c=x", "a qualified name must consist of alphanumeric characters"),
    ("/b=x", "prefix part must be non-empty"),
    ("Example.com/b=x", "prefix part a lowercase RFC 1123 subdomain"),
    ("-a=x", "key: Invalid value: \"-a\": name part must consist of"),
    ("a=-x", "must start and end with an alphanumeric character"),
    ("a=" + "v" * 64, "must be no more than 63 characters"),
    ("k" * 64, "name part must be no more than 63 characters"),
    ("x>a", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x>", "for 'Gt', 'Lt' operators, the value must be an integer"),
])
def test_label_selector_invalid(text: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        parse_label_selector(text)
    assert message in info.value.message
    assert info.value.code == 400


def test_empty_label_selector_matches_everything() -> None:
    for text in (None, "", "   "):
        sel = parse_label_selector(text)
        assert sel.empty
        assert sel.matches({"a": "b"})
        assert sel.matches(None)
        assert str(sel) == ""


@pytest.mark.parametrize("text,labels,expected", [
    ("x=a", {"x": "a"}, True),
    ("x=a", {"x": "b"}, False),
    ("x=a", {}, False),
    ("x==a", {"x": "a", "y": "z"}, True),
    ("x!=a", {"x": "b"}, True),
    ("x!=a", {"x": "a"}, False),
    ("x!=a", {}, True),
    ("x=", {"x": ""}, True),
    ("x=", {}, False),
    ("x in (a,b)", {"x": "b"}, True),
    ("x in (a,b)", {"x": "c"}, False),
    ("x in (a,b)", {}, False),
    ("x notin (a,b)", {"x": "c"}, True),
    ("x notin (a,b)", {"x": "a"}, False),
    ("x notin (a,b)", {}, True),
    ("x", {"x": ""}, True),
    ("x", {"y": "1"}, False),
    ("!x", {"y": "1"}, True),
    ("!x", {"x": "1"}, False),
    ("x>1", {"x": "2"}, True),
    ("x>1", {"x": "1"}, False),
    ("x>1", {"x": "abc"}, False),
    ("x>1", {}, False),
    ("x<1", {"x": "0"}, True),
    ("x<1", {"x": "-3"}, True),
    ("x=a,y in (b)", {"x": "a", "y": "b"}, True),
    ("x=a,y in (b)", {"x": "a", "y": "c"}, False),
    ("x=a,!z", {"x": "a", "z": "1"}, False),
])
def test_label_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_absent_labels_are_an_empty_set() -> None:
    assert parse_label_selector("!x").matches(None)
    assert parse_label_selector("x notin (a)").matches(None)
    assert not parse_label_selector("x").matches(None)


def test_exact_match_requirements() -> None:
    sel = parse_label_selector("app=web,tier==fe,zone in (a),env in (x,y),!legacy,track!=b")
    assert sel.exact_matches() == {"app": "web", "tier": "fe", "zone": "a"}
    assert sel.requires_exact_match("app") == "web"
    assert sel.requires_exact_match("env") is None
    assert sel.requires_exact_match("track") is None
    assert [r.key for r in sel.requirements] == ["app", "env", "legacy", "tier", "track", "zone"]


def test_requirement_validation() -> None:
    assert Requirement.new("a", "in", ["x"]).operator is Operator.IN
    with pytest.raises(ValueError, match="values set can't be empty"):
        Requirement.new("a", Operator.IN, [])
    with pytest.raises(ValueError, match="exact-match compatibility requires one single value"):
        Requirement.new("a", Operator.EQUALS, ["x", "y"])
    with pytest.raises(ValueError, match="values set must be empty"):
        Requirement.new("a", Operator.EXISTS, ["x"])
    with pytest.raises(ValueError, match="exactly one value is required"):
        Requirement.new("a", Operator.GT, ["1", "2"])


def test_label_selector_from_dict_nil_and_empty() -> None:
    nothing = label_selector_from_dict(None)
    assert not nothing.matches({})
    assert not nothing.matches({"a": "b"})
    assert not nothing.empty
    everything = label_selector_from_dict({})
    assert everything.empty
    assert everything.matches({"a": "b"})
    assert label_selector_from_dict({"matchLabels": {}, "matchExpressions": []}).empty


def test_label_selector_from_dict_expressions() -> None:
    sel = label_selector_from_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "track", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist", "values": []},
        ],
    })
    assert str(sel) == "app=web,env notin (prod),!legacy,tier in (a,b),track"
    assert sel.matches({"app": "web", "tier": "a", "track": "x"})
    assert not sel.matches({"app": "web", "tier": "a", "track": "x", "env": "prod"})
    assert not sel.matches({"app": "web", "tier": "c", "track": "x"})
    assert sel.exact_matches() == {"app": "web"}


@pytest.mark.parametrize("sel,message", [
    ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
     '"Equals" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     "matchExpressions[0].values: Invalid value"),
    ({"matchExpressions": [{"key": "a b", "operator": "Exists"}]}, "matchExpressions[0].key"),
    ({"matchLabels": {"app": "bad value"}}, "matchLabels.values[0][app]"),
    ({"matchLabels": {"app": 3}}, "must be a string"),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]}, "must be a list of strings"),
    ({"matchExpressions": ["a"]}, "must be an object"),
])
def test_label_selector_from_dict_invalid(sel: dict, message: str) -> None:
    with pytest.raises(errors.Invalid) as info:
        label_selector_from_dict(sel)
    assert message in info.value.message
    assert info.value.code == 422


def test_selector_printing() -> None:
    assert selector_to_string({"matchLabels": {"tier": "fe", "app": "web"}}) == "app=web,tier=fe"
    assert selector_to_string({}) == ""
    assert format_label_selector({}) == "<none>"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}) == "<error>"
    assert format_label_selector({"matchLabels": {"a": "b"}}) == "a=b"
    text = selector_to_string({"matchExpressions": [{"key": "t", "operator": "In", "values": ["b", "a"]}]})
    assert text == "t in (a,b)"
    assert parse_label_selector(text) == label_selector_from_dict(
        {"matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}]})


def test_label_selector_from_set() -> None:
    sel = label_selector_from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert label_selector_from_set(None).empty
    with pytest.raises(errors.Invalid):
        label_selector_from_set({"a": "-"})


def test_name_validation() -> None:
    assert is_qualified_name("app.kubernetes.io/name") == []
    assert is_qualified_name("a") == []
    assert is_qualified_name("") == ["name part must be non-empty", is_qualified_name("-")[0]]
    assert is_valid_label_value("") == []
    assert is_valid_label_value("A_b.c-9") == []
    assert is_valid_label_value("a" * 63) == []
    assert is_valid_label_value("a" * 64) == ["must be no more than 63 characters"]
    assert is_valid_label_value("a b")


_label_value = st.from_regex(r"\A([A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?)?\Z")


@given(st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9]{0,8}\Z"), _label_value, max_size=5))
def test_set_selector_round_trips_and_matches_its_own_set(labels: dict[str, str]) -> None:
    sel = label_selector_from_set(labels)
    assert sel.matches(labels)
    assert parse_label_selector(str(sel)) == sel


# --- field selectors --------------------------------------------------------


@pytest.mark.parametrize("text,terms,canonical", [
    ("", [], ""),
    ("a=b", [("a", "=", "b")], "a=b"),
    ("a==b", [("a", "=", "b")], "a=b"),
    ("a!=b", [("a", "!=", "b")], "a!=b"),
    ("a=", [("a", "=", "")], "a="),
    ("spec.nodeName=n1,metadata.name=x", [("metadata.name", "=", "x"), ("spec.nodeName", "=", "n1")],
     "metadata.name=x,spec.nodeName=n1"),
    (r"a=b\,c", [("a", "=", "b,c")], r"a=b\,c"),
    (r"a=b\=c\\d", [("a", "=", "b=c\\d")], r"a=b\=c\\d"),
    ("a=b,,c=d", [("a", "=", "b"), ("c", "=", "d")], "a=b,c=d"),
    ("a = b", [("a ", "=", " b")], "a = b"),  # Kubernetes trims nothing
])
def test_field_selector_parse(text: str, terms: list[tuple[str, str, str]], canonical: str) -> None:
    sel = parse_field_selector(text)
    assert sel.requirements() == terms
    assert str(sel) == canonical
    assert sel.empty is (not terms)


@pytest.mark.parametrize("text,message", [
    ("a", "invalid selector: 'a'; can't understand 'a'"),
    ("a=b,c", "can't understand 'c'"),
    ("a=b=c", "invalid field selector: unescaped character in value: ="),
    (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_field_selector_invalid(text: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        parse_field_selector(text)
    assert message in info.value.message


def test_field_selector_matching() -> None:
    sel = parse_field_selector("spec.nodeName=n1,status.phase!=Failed")
    assert sel.matches({"spec.nodeName": "n1", "status.phase": "Running"})
    assert sel.matches({"spec.nodeName": "n1"})
    assert not sel.matches({"spec.nodeName": "n2", "status.phase": "Running"})
    assert not sel.matches({"spec.nodeName": "n1", "status.phase": "Failed"})
    assert parse_field_selector("spec.nodeName=").matches({})
    assert parse_field_selector(None).matches({"anything": "x"})
    assert FieldSelector().empty
    assert sel.requires_exact_match("spec.nodeName") == "n1"
    assert sel.requires_exact_match("status.phase") is None


@given(st.text(max_size=20))
def test_field_value_escaping_round_trips(value: str) -> None:
    sel = parse_field_selector("f=" + escape_field_value(value))
    assert sel.requirements() == [("f", "=", value)]
    assert sel.matches({"f": value})


def test_label_selector_is_hashable_value() -> None:
    assert parse_label_selector("a=b,c") == parse_label_selector("c,a=b")
    assert len({parse_label_selector("a=b"), parse_label_selector("a = b")}) == 1
    assert LabelSelector.everything() != LabelSelector.none()
