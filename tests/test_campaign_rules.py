"""Campaign rules as plain functions: the options a user types (window, days, durations), the AAPOR rates on
worked examples, and how a contact list's rows are read (numbers, zones, duplicates, bad rows, bad files)."""

from __future__ import annotations

import io

import pytest

from survey_bot.campaigns.contacts import Contact, Duplicate, ListError, Rejected, decoded_lines, read_contacts
from survey_bot.campaigns.rates import group_of, rates_from_codes
from survey_bot.campaigns.settings import (
    CampaignSettings,
    SettingError,
    format_duration,
    parse_days,
    parse_duration,
    parse_window,
)

# ---- options ---------------------------------------------------------------------------------------------


def test_the_defaults_are_the_issues() -> None:
    rules = CampaignSettings.from_text()
    assert (rules.window_start, rules.window_end, rules.days) == ("09:00", "20:00", "mon,tue,wed,thu,fri,sat")
    assert (rules.max_attempts, rules.retry_after_seconds, rules.concurrency, rules.rate) == (3, 14400, 10, 1.0)
    assert rules.amd is True and rules.voicemail is None and rules.quota is None


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("4h", 14400), ("2s", 2), (" 1H ", 3600)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0s", "4", "4d", "-1h", "1.5h", "", "h"])
def test_bad_durations_say_the_shape(text: str) -> None:
    with pytest.raises(SettingError, match=r"--retry-after: .* 90s, 30m, 4h"):
        parse_duration(text)


def test_durations_are_written_back_shortest() -> None:
    assert [format_duration(s) for s in (14400, 1800, 90, 5400)] == ["4h", "30m", "90s", "90m"]


@pytest.mark.parametrize(("text", "days"), [
    ("mon-fri", "mon,tue,wed,thu,fri"), ("mon-sun", "mon,tue,wed,thu,fri,sat,sun"), ("fri,mon,wed", "mon,wed,fri"),
    ("Sat", "sat"), ("mon-tue,sat-sun", "mon,tue,sat,sun"), ("mon,mon", "mon"),
])
def test_days(text: str, days: str) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["fri-mon", "monday", "", "mon,,fri", "mon-"])
def test_bad_days_are_refused(text: str) -> None:
    with pytest.raises(SettingError, match="--days"):
        parse_days(text)


def test_windows() -> None:
    assert parse_window("08:30-21:00") == ("08:30", "21:00")
    for bad in ("9-17", "20:00-09:00", "09:00-09:00", "24:00-25:00", "09:00"):
        with pytest.raises(SettingError, match="--window"):
            parse_window(bad)


@pytest.mark.parametrize(("options", "option"), [
    ({"max_attempts": 0}, "max-attempts"), ({"concurrency": 0}, "concurrency"), ({"rate": 0.0}, "rate"),
    ({"rate": float("nan")}, "rate"), ({"quota": 0}, "quota"), ({"voicemail": "  "}, "voicemail"),
    ({"voicemail": "hi", "amd": False}, "voicemail"), ({"default_region": "XX"}, "default-region"),
    ({"locale": "english!"}, "locale"),
])
def test_bad_options_name_the_option(options: dict[str, object], option: str) -> None:
    with pytest.raises(SettingError) as caught:
        CampaignSettings.from_text(**options)  # type: ignore[arg-type]
    assert caught.value.option == option


# ---- rates -----------------------------------------------------------------------------------------------


def test_rates_on_a_worked_example() -> None:
    # I=40 P=10 R=15+5 NC=5 UH=20+3+2 NE=10+2+3 (not eligible: in no rate): every denominator is 100 or 70
    rates = rates_from_codes({"1.1": 40, "1.2": 10, "2.11": 15, "2.12": 5, "2.22": 5, "3.13": 20, "3.12": 3,
                              "3.14": 2, "4.31": 10, "4.20": 2, "4.80": 3})
    assert rates.groups == {"I": 40, "P": 10, "R": 20, "NC": 5, "O": 0, "UH": 25, "UO": 0, "NE": 15}
    assert rates.as_dict() == pytest.approx({"RR1": 0.40, "RR2": 0.50, "COOP1": 40 / 70, "REF1": 0.20, "CON1": 0.70})


def test_rates_on_a_second_worked_example_with_never_dialled_contacts() -> None:
    # 3 completes, 1 refusal, 2 never dialled (3.11), 4 answering machines never confirmed as a household (3.14)
    rates = rates_from_codes({"1.1": 3, "2.11": 1, "3.11": 2, "3.14": 4})
    assert rates.as_dict() == pytest.approx({"RR1": 0.3, "RR2": 0.3, "COOP1": 0.75, "REF1": 0.1, "CON1": 0.4})


def test_a_rate_with_nothing_to_divide_is_none_not_zero() -> None:
    assert rates_from_codes({}).as_dict() == dict.fromkeys(("RR1", "RR2", "COOP1", "REF1", "CON1"))
    only_ineligible = rates_from_codes({"4.31": 5})
    assert only_ineligible.RR1 is None and only_ineligible.groups["NE"] == 5


@pytest.mark.parametrize(("code", "group"), [("1.1", "I"), ("1.2", "P"), ("2.11", "R"), ("2.12", "R"),
                                             ("2.22", "NC"), ("2.31", "O"), ("3.11", "UH"), ("3.16", "UH"),
                                             ("3.21", "UO"), ("4.80", "NE")])
def test_codes_fall_in_their_groups(code: str, group: str) -> None:
    assert group_of(code) == group


# ---- the list ------------------------------------------------------------------------------------------


def rows(text: str, **options: str) -> list[Contact | Rejected | Duplicate]:
    _reader, found = read_contacts(decoded_lines(io.BytesIO(text.encode())), **options)
    return list(found)


def test_numbers_are_normalised_and_zones_derived_or_given() -> None:
    found = rows("phone,name,timezone,locale,plan\n"
                 "+1 (212) 555-0123,Ann,,,gold\n"
                 "+44 20 7946 0958,Bea,Europe/London,en-GB,\n"
                 "+61 412 345 678,Cy,,,silver\n")
    ann, bea, cy = found
    assert isinstance(ann, Contact) and ann.phone == "+12125550123" and ann.timezones == "America/New_York"
    assert ann.variables == {"plan": "gold"} and ann.name == "Ann" and ann.line == 2
    assert isinstance(bea, Contact) and bea.locale == "en-GB" and bea.timezones == "Europe/London"
    assert isinstance(cy, Contact) and "Australia/Sydney" in cy.timezones.split(",")  # a mobile: several zones


def test_national_numbers_need_a_default_region() -> None:
    (refused,) = rows("phone\n020 7946 0958\n")
    assert isinstance(refused, Rejected) and "--default-region" in refused.reason
    (taken,) = rows("phone\n020 7946 0958\n", default_region="GB")
    assert isinstance(taken, Contact) and taken.phone == "+442079460958"


def test_bad_rows_and_duplicates_keep_their_line_and_reason() -> None:
    found = rows('phone,name\n+12125550123,Ann\n+1 212 555 0123,Ann again\nnot a number,X\n+1999,Y\n\n'
                 '"+12125550124",Z,extra\n+12125550125,\n')
    assert found[0] == Contact(2, "+12125550123", "America/New_York", None, "Ann", {})
    assert found[1] == Duplicate(3, "+12125550123", 2)
    assert isinstance(found[2], Rejected) and found[2].line == 4 and "not a phone number" in found[2].reason
    assert isinstance(found[3], Rejected) and found[3].line == 5 and "not a valid number" in found[3].reason
    assert found[4] == Rejected(7, "3 cells where the header has 2 columns")  # line 6 is blank
    assert isinstance(found[5], Contact) and found[5].line == 8 and found[5].name is None


def test_bad_zones_and_locales_are_rejected_rows() -> None:
    zone, locale = rows("phone,timezone,locale\n+12125550123,Mars/Olympus,\n+12125550124,,x!\n")
    assert isinstance(zone, Rejected) and "IANA" in zone.reason
    assert isinstance(locale, Rejected) and "locale" in locale.reason


@pytest.mark.parametrize(("text", "message"), [
    ("", "line 1: the file is empty"),
    ("name,plan\nAnn,x\n", "line 1: no `phone` column (columns: name, plan)"),
    ("phone,x,x\n", "line 1: column 'x' appears twice"),
    ("phone,disposition\n", "line 1: column 'disposition' is a name the campaign export uses"),
    ('phone\n+12125550123\n"unterminated\n+1\n', "line "),
])
def test_a_list_that_cannot_be_read_says_where(text: str, message: str) -> None:
    with pytest.raises(ListError) as caught:
        rows(text)
    assert str(caught.value).startswith(message)


def test_a_list_that_is_not_utf8_names_the_line() -> None:
    with pytest.raises(ListError, match="line 3: not UTF-8"):
        list(read_contacts(decoded_lines(io.BytesIO(b"phone,name\n+12125550123,A\n+12125550124,\xe9\n")))[1])


def test_a_bom_is_dropped() -> None:
    reader, found = read_contacts(decoded_lines(io.BytesIO("\ufeffphone,Plan\n+12125550123,x\n".encode())))
    assert reader.columns == ["Plan"] and len(list(found)) == 1
