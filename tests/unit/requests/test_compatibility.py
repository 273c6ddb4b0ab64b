"""Structural compatibility rules, case by case and as properties."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skillmarket.requests.compatibility import PropertyMap, check, label
from skillmarket.requests.shapes import compact, consumer_shape, may_fit, producer_shape


def obj(required=(), **props):
    return {"type": "object", "required": list(required), "properties": props}


INT, NUM, STR = {"type": "integer"}, {"type": "number"}, {"type": "string"}


class TestTypes:
    def test_integer_fits_number(self):
        assert check(INT, NUM).status == "proven"

    def test_number_fails_integer(self):
        verdict = check(NUM, INT)
        assert verdict.status == "incompatible"
        assert "number" in verdict.conflicts[0]

    def test_union_fails_when_one_type_is_refused(self):
        assert not check({"type": ["string", "null"]}, STR).compatible

    def test_anything_fits_an_open_consumer(self):
        for consumer in ({}, True, {"description": "anything"}):
            assert check({"type": "array"}, consumer).proven

    def test_open_producer_fails_typed_consumer(self):
        assert not check({}, STR).compatible

    def test_producer_without_type_is_read_from_keywords_with_caveat(self):
        verdict = check({"properties": {"a": STR}, "required": ["a"]}, obj(["a"], a=STR))
        assert verdict.status == "unproven"
        assert "declares no type" in verdict.caveats[0]

    def test_empty_producer_fits_anything(self):
        assert check(False, STR).proven

    def test_consumer_accepting_nothing_fails(self):
        assert not check(STR, False).compatible


class TestObjects:
    def test_required_property_must_be_guaranteed(self):
        verdict = check(obj(total=NUM), obj(["total"], total=NUM))
        assert verdict.conflicts == (
            "`total`: required by the consumer, not guaranteed "
            "(the producer declares it as optional)",
        )

    def test_extra_producer_properties_are_dropped(self):
        producer = obj(["total", "currency"], total=INT, currency=STR)
        consumer = {**obj(["total"], total=NUM), "additionalProperties": False}
        verdict = check(producer, consumer)
        assert verdict.proven
        assert verdict.mappings == (PropertyMap("total", "integer", "number"),)

    def test_nested_properties_are_checked(self):
        producer = obj(["customer"], customer=obj(["email"], email=STR))
        assert check(producer, obj(["customer"], customer=obj(["email"], email=STR))).proven
        verdict = check(producer, obj(["customer"], customer=obj(["email", "id"], id=INT)))
        assert verdict.conflicts == ("`customer.id`: required by the consumer, not guaranteed",)

    def test_nested_type_conflict_names_the_path(self):
        verdict = check(obj(["a"], a=obj(["b"], b=STR)), obj(["a"], a=obj(["b"], b=INT)))
        assert verdict.conflicts[0].startswith("`a.b`: the producer may give string")

    def test_optional_consumer_property_the_producer_omits_is_fine(self):
        assert check(obj(["a"], a=STR), obj(["a"], a=STR, lang=STR)).proven

    def test_optional_producer_property_must_fit_when_declared_by_both(self):
        assert not check(obj(lang=INT), obj(lang=STR)).compatible

    def test_required_but_undeclared_property_takes_additional_properties(self):
        producer = {"type": "object", "required": ["a"], "additionalProperties": INT}
        assert check(producer, obj(["a"], a=NUM)).proven
        assert not check({"type": "object", "required": ["a"]}, obj(["a"], a=NUM)).compatible

    def test_min_properties_needs_guarantees(self):
        consumer = {"type": "object", "minProperties": 2}
        assert check(obj(["a", "b"], a=STR, b=STR), consumer).proven
        assert not check(obj(["a"], a=STR), consumer).proven


class TestArrays:
    def test_items_are_checked(self):
        producer = {"type": "array", "items": obj(["price"], price=INT)}
        assert check(producer, {"type": "array", "items": obj(["price"], price=NUM)}).proven
        verdict = check(producer, {"type": "array", "items": obj(["sku"], sku=STR)})
        assert verdict.conflicts == ("`[]`.sku: required by the consumer, not guaranteed",) or (
            verdict.conflicts[0].startswith("`[].sku`")
        )

    def test_untyped_items_fail_typed_items(self):
        assert not check({"type": "array"}, {"type": "array", "items": STR}).compatible

    def test_item_mappings_use_brackets(self):
        producer = obj(["lines"], lines={"type": "array", "items": obj(["amount"], amount=INT)})
        consumer = obj(["lines"], lines={"type": "array", "items": obj(["amount"], amount=NUM)})
        paths = {m.path for m in check(producer, consumer).mappings}
        assert paths == {"lines", "lines[]", "lines[].amount"}

    def test_tuples_are_unproven(self):
        verdict = check({"type": "array", "prefixItems": [STR]}, {"type": "array", "items": STR})
        assert verdict.status == "unproven"

    def test_max_items_is_a_caveat(self):
        consumer = {"type": "array", "maxItems": 10}
        assert check({"type": "array"}, consumer).status == "unproven"
        assert check({"type": "array", "maxItems": 5}, consumer).proven


class TestEnums:
    def test_enum_subset_fits(self):
        assert check({"enum": ["a", "b"]}, {"enum": ["a", "b", "c"]}).proven

    def test_enum_superset_fails(self):
        verdict = check({"enum": ["a", "z"]}, {"enum": ["a", "b"]})
        assert verdict.conflicts == (
            'the root: the producer may give "z", which the consumer refuses',
        )

    def test_consumer_enum_needs_producer_enum(self):
        assert not check(STR, {"enum": ["a"]}).compatible

    def test_boolean_expands_to_its_values(self):
        assert check({"type": "boolean"}, {"enum": [True, False, None]}).proven

    def test_enum_values_checked_against_typed_consumer(self):
        assert check({"enum": [1, 2]}, INT).proven
        assert not check({"enum": [1, "x"]}, INT).compatible

    def test_const_fits_const(self):
        assert check({"const": "eur"}, {"const": "eur"}).proven
        assert not check({"const": "usd"}, {"const": "eur"}).compatible

    def test_true_is_not_one(self):
        assert not check({"const": True}, {"enum": [1]}).compatible


class TestBounds:
    def test_consumer_bound_not_guaranteed_is_a_caveat(self):
        verdict = check(STR, {"type": "string", "maxLength": 100})
        assert verdict.status == "unproven"
        assert "maxLength" in verdict.caveats[0]

    def test_tighter_producer_bound_is_proven(self):
        assert check(
            {"type": "string", "maxLength": 50}, {"type": "string", "maxLength": 100}
        ).proven
        assert check({**INT, "minimum": 1}, {**NUM, "exclusiveMinimum": 0}).proven
        assert not check({**INT, "minimum": 0}, {**NUM, "exclusiveMinimum": 0}).proven

    def test_multiple_of(self):
        assert check({**NUM, "multipleOf": 0.5}, {**NUM, "multipleOf": 0.25}).proven
        assert check(INT, {**NUM, "multipleOf": 1}).proven
        assert not check(NUM, {**NUM, "multipleOf": 1}).proven

    def test_format_and_pattern(self):
        email = {"type": "string", "format": "email"}
        assert check(email, email).proven
        assert check(STR, email).status == "unproven"


class TestCombinators:
    def test_producer_any_of_needs_every_branch(self):
        producer = {"anyOf": [INT, STR]}
        assert check(producer, {"type": ["integer", "string"]}).proven
        assert not check(producer, STR).compatible

    def test_consumer_any_of_needs_one_branch(self):
        assert check(INT, {"anyOf": [STR, NUM]}).proven

    def test_consumer_any_of_split_by_type(self):
        assert check({"type": ["string", "integer"]}, {"anyOf": [STR, NUM]}).proven

    def test_consumer_one_of_with_overlap_is_unproven(self):
        assert check(INT, {"oneOf": [NUM, INT]}).status == "unproven"
        assert check(INT, {"oneOf": [STR, NUM]}).proven

    def test_producer_all_of_is_merged(self):
        producer = {"allOf": [obj(["a"], a=INT), obj(["b"], b=STR)]}
        assert check(producer, obj(["a", "b"], a=NUM, b=STR)).proven

    def test_consumer_all_of_needs_every_branch(self):
        consumer = {"allOf": [obj(["a"], a=NUM), obj(["b"], b=STR)]}
        assert check(obj(["a", "b"], a=INT, b=STR), consumer).proven
        assert not check(obj(["a"], a=INT), consumer).compatible

    def test_consumer_not_is_a_caveat(self):
        assert check(STR, {"type": "string", "not": {"const": ""}}).status == "unproven"


class TestRefs:
    def test_local_refs_are_inlined(self):
        producer = {
            "$defs": {"money": {"type": "integer"}},
            "type": "object",
            "required": ["total"],
            "properties": {"total": {"$ref": "#/$defs/money"}},
        }
        assert check(producer, obj(["total"], total=NUM)).proven

    def test_ref_with_siblings_means_all_of(self):
        schema = {"$defs": {"s": STR}, "$ref": "#/$defs/s", "maxLength": 3}
        assert compact(schema) == {"maxLength": 3, "allOf": [STR]}

    def test_remote_ref_is_unproven(self):
        verdict = check({"$ref": "https://example.com/s.json"}, STR)
        assert verdict.status == "unproven"
        assert "remote or recursive" in verdict.caveats[0]

    def test_recursive_ref_is_unproven_not_incompatible(self):
        tree = {
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
        }
        assert check(tree, tree).status == "unproven"

    def test_annotations_are_stripped(self):
        assert compact({"title": "t", "description": "d", "type": "string"}) == STR


class TestLabels:
    @pytest.mark.parametrize(
        ("schema", "text"),
        [
            (INT, "integer"),
            ({"type": ["string", "null"]}, "null|string"),
            ({"type": "array", "items": STR}, "array<string>"),
            ({"enum": ["a"]}, 'one of "a"'),
            ({}, "any"),
        ],
    )
    def test_label(self, schema, text):
        assert label(schema) == text


class TestShapes:
    def test_producer_shape_names_are_guarantees(self):
        shape = producer_shape(obj(["a"], a=STR, b=STR))
        assert shape.names == {"a"}

    def test_consumer_number_accepts_integer_bits(self):
        assert may_fit(producer_shape(INT), consumer_shape(NUM))
        assert not may_fit(producer_shape(NUM), consumer_shape(INT))

    def test_remote_ref_is_opaque(self):
        assert producer_shape({"$ref": "https://x"}).types == 0
        assert may_fit(producer_shape({"$ref": "https://x"}), consumer_shape(STR))

    def test_names_need_objects(self):
        assert may_fit(producer_shape(STR), consumer_shape({"type": ["string", "object"]}))
        assert not may_fit(producer_shape(obj(a=STR)), consumer_shape(obj(["a"], a=STR)))


# -- properties ------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "total", "text", "items"])
SCALARS = st.sampled_from(["string", "integer", "number", "boolean", "null"])


def _leaf():
    plain = st.builds(lambda t: {"type": t}, SCALARS)
    bounded = st.builds(
        lambda lo, hi: {"type": "integer", "minimum": lo, "maximum": lo + hi},
        st.integers(-5, 5),
        st.integers(0, 5),
    )
    text = st.builds(
        lambda n, fmt: {"type": "string", "maxLength": n, **({"format": fmt} if fmt else {})},
        st.integers(0, 9),
        st.sampled_from([None, "email", "uri"]),
    )
    enum = st.lists(st.sampled_from(["x", "y", 1, 2.5, True, None]), min_size=1, max_size=3)
    return plain | bounded | text | enum.map(lambda v: {"enum": v})


def _objects(children):
    return st.builds(
        lambda props, req, closed: {
            "type": "object",
            "properties": props,
            "required": sorted(set(req) & set(props)),
            **({"additionalProperties": False} if closed else {}),
        },
        st.dictionaries(NAMES, children, max_size=4),
        st.lists(NAMES, max_size=4),
        st.booleans(),
    )


SCHEMAS = st.recursive(
    _leaf(),
    lambda children: (
        _objects(children)
        | st.builds(lambda items: {"type": "array", "items": items}, children)
        | st.lists(children, min_size=1, max_size=3).map(lambda bs: {"anyOf": bs})
    ),
    max_leaves=12,
)
OBJECTS = _objects(SCHEMAS)


def _integerised(schema):
    """``schema`` with every ``number`` type made ``integer``."""
    if isinstance(schema, list):
        return [_integerised(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _integerised(v) for k, v in schema.items()}
    if out.get("type") == "number":
        out["type"] = "integer"
    return out


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(SCHEMAS)
    def test_a_schema_is_compatible_with_itself(self, schema):
        assert check(schema, copy.deepcopy(schema)).compatible

    @settings(max_examples=300, deadline=None)
    @given(st.recursive(_leaf(), lambda c: _objects(c), max_leaves=10))
    def test_a_schema_without_unions_proves_itself(self, schema):
        assert check(schema, schema).proven

    @settings(max_examples=300, deadline=None)
    @given(OBJECTS, OBJECTS, SCHEMAS)
    def test_adding_a_required_output_property_never_breaks_a_match(self, skill, wanted, extra):
        fresh = "added_property"
        before = check(skill, wanted)
        grown = {
            **skill,
            "properties": {**skill["properties"], fresh: extra},
            "required": [*skill["required"], fresh],
        }
        after = check(grown, wanted)
        assert after.compatible >= before.compatible
        assert after.proven >= before.proven

    @settings(max_examples=300, deadline=None)
    @given(SCHEMAS)
    def test_integer_output_satisfies_number_input(self, schema):
        assert check(_integerised(schema), schema).compatible

    @settings(max_examples=300, deadline=None)
    @given(OBJECTS, OBJECTS)
    def test_dropping_a_required_input_never_breaks_a_match(self, given_input, skill_input):
        before = check(given_input, skill_input)
        for name in skill_input["required"]:
            looser = {**skill_input, "required": [n for n in skill_input["required"] if n != name]}
            assert check(given_input, looser).compatible >= before.compatible

    @settings(max_examples=300, deadline=None)
    @given(SCHEMAS, SCHEMAS)
    def test_shape_prefilter_never_drops_a_match(self, producer, consumer):
        if check(producer, consumer).compatible:
            assert may_fit(producer_shape(compact(producer)), consumer_shape(compact(consumer)))
