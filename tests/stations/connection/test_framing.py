"""The framing layer frame by frame (pure functions, no server)."""

import pytest

from stations.protocol.framing import FrameError, action_check, frame_parse, payload_violations


@pytest.mark.parametrize(
    ("text", "message_id", "code"),
    [
        ("not json", "-1", "FormationViolation"),
        ('{"a": 1}', "-1", "FormationViolation"),
        ("[]", "-1", "FormationViolation"),
        ('["2", "x", "Heartbeat", {}]', "x", "FormationViolation"),
        ('[2, 17, "Heartbeat", {}]', "-1", "FormationViolation"),
        ('[2, "' + "x" * 37 + '", "Heartbeat", {}]', "-1", "FormationViolation"),
        ('[2, "abc", "Heartbeat"]', "abc", "ProtocolError"),
        ('[2, "abc", "Heartbeat", []]', "abc", "FormationViolation"),
        ('[2, "abc", 5, {}]', "abc", "FormationViolation"),
    ],
)
def test_a_malformed_1_6_frame_gets_the_1_6_error_with_the_readable_id(text, message_id, code):
    with pytest.raises(FrameError) as caught:
        frame_parse(text, version="1.6")
    assert (caught.value.message_id, caught.value.code, caught.value.reply) == (message_id, code, True)


def test_an_unknown_message_type_is_ignored_in_1_6_but_answered_in_2_0_1():
    with pytest.raises(FrameError) as v16:
        frame_parse('[5, "abc", {}]', version="1.6")
    assert v16.value.reply is False
    with pytest.raises(FrameError) as v201:
        frame_parse('[5, "abc", {}]', version="2.0.1")
    assert (v201.value.code, v201.value.reply) == ("MessageTypeNotSupported", True)


def test_unknown_actions_are_not_implemented_and_known_but_unserved_ones_not_supported():
    with pytest.raises(FrameError, match="not a known action") as unknown:
        action_check("MakeCoffee", version="1.6")
    assert unknown.value.code == "NotImplemented"
    with pytest.raises(FrameError) as unserved:
        action_check("Reset", version="1.6")  # a CSMS → station action
    assert unserved.value.code == "NotSupported"
    action_check("StartTransaction", version="1.6")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"chargePointVendor": "V"}, "OccurenceConstraintViolation"),
        ({"chargePointVendor": "V", "chargePointModel": 7}, "TypeConstraintViolation"),
        ({"chargePointVendor": "V", "chargePointModel": "M", "extra": 1}, "FormationViolation"),
        ({"chargePointVendor": "V" * 21, "chargePointModel": "M"}, "TypeConstraintViolation"),
    ],
)
def test_schema_violations_carry_the_1_6_code_names(payload, code):
    assert payload_violations("BootNotification", payload, version="1.6")[0].code == code


def test_an_unknown_enum_value_is_a_property_constraint_violation_and_harmless_only_where_listed():
    meter = {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": "2025-01-01T00:00:00Z",
                "sampledValue": [{"value": "1", "measurand": "Request.Energy"}],
            }
        ],
    }
    [violation] = payload_violations("MeterValues", meter, version="1.6")
    assert violation.code == "PropertyConstraintViolation" and violation.harmless
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}
    [violation] = payload_violations("StatusNotification", status, version="1.6")
    assert not violation.harmless  # an unknown status changes the meaning
