"""The four projections as pure folds: what an analyst should read on a date, as known on a date."""

from datetime import date

from helpers import alternative_of, amendment, change, claim, package, retraction, stance
from ledger.projections import entity_state, state_at

MAY = lambda day: date(2024, 5, day)  # noqa: E731
JUNE = lambda day: date(2024, 6, day)  # noqa: E731


def restriction(events, as_of, known_at=None, key="r1"):
    return entity_state(events, ("restrictions", key), as_of, known_at)


# --- restrictions -------------------------------------------------------------------------


def test_a_later_change_replaces_the_fields_it_gives_and_keeps_the_others():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01", weapons=["HIMARS"], area="Russia", purpose="avoid escalation"),
        change("counter-fire", "r1", "conditional", "2024-05-30", conditions=["near Kharkiv"], area="Belgorod"),
    ]
    state = restriction(events, JUNE(1))
    assert state["status"] == "conditional"
    assert state["weapons"] == ["HIMARS"] and state["purpose"] == "avoid escalation"
    assert state["area"] == "Belgorod" and state["conditions"] == ["near Kharkiv"]
    assert state["issuer"] == "us" and state["subject"] == "ukraine"
    assert state["events"] == ["ban", "counter-fire"]
    assert state["since"] == "2024-05-30"


def test_before_the_first_event_the_restriction_is_absent():
    events = [change("counter-fire", "r1", "conditional", "2024-05-30")]
    assert restriction(events, MAY(29)) is None
    assert state_at(events, MAY(29))["restrictions"] == []


def test_since_is_when_the_status_began_not_when_it_was_last_reaffirmed():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01"),
        change("reaffirmed", "r1", "prohibited", "2024-05-20", stage="reaffirmed"),
    ]
    state = restriction(events, JUNE(1))
    assert state["since"] == "2024-05-01" and state["events"] == ["ban", "reaffirmed"]
    assert state["stage"] == "reaffirmed"


def test_a_change_takes_effect_on_its_effective_date_when_it_has_one():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01"),
        change("signed", "r1", "permitted", "2024-05-10", effective="2024-05-20"),
    ]
    assert restriction(events, MAY(15))["status"] == "prohibited"
    assert restriction(events, MAY(20))["status"] == "permitted"
    assert restriction(events, MAY(20))["since"] == "2024-05-20"


def test_changes_taking_effect_on_one_day_fold_in_the_order_they_happened():
    events = [
        change("a-in-effect", "r1", "conditional", "2024-05-30", stage="in_effect", conditions=["near Kharkiv"]),
        change("z-recommended", "r1", "conditional", "2024-05-13", stage="recommended", effective="2024-05-30"),
        change("m-signed", "r1", "conditional", "2024-05-20/2024-05-27", stage="signed", effective="2024-05-30"),
    ]
    state = restriction(events, JUNE(1))
    assert state["events"] == ["z-recommended", "m-signed", "a-in-effect"] and state["stage"] == "in_effect"


def test_events_fold_in_date_order_whatever_order_they_come_in():
    late_news_of_early_change = change("early", "r1", "prohibited", "2024-05-01", reported="2024-05-25")
    events = [change("later", "r1", "conditional", "2024-05-20"), late_news_of_early_change]
    assert restriction(events, JUNE(1))["status"] == "conditional"
    assert restriction(events, JUNE(1))["events"] == ["early", "later"]
    assert restriction(list(reversed(events)), JUNE(1)) == restriction(events, JUNE(1))


def test_an_uncertain_date_that_straddles_the_as_of_date_makes_the_state_possible():
    events = [change("ban", "r1", "prohibited", "2024-05-01"), change("decided", "r1", "conditional", "2024-05-30~")]
    assert restriction(events, MAY(26))["status"] == "prohibited"  # 2024-05-30~ starts 2024-05-27
    assert restriction(events, MAY(26))["certainty"] == "certain"
    assert restriction(events, MAY(28))["status"] == "conditional"
    assert restriction(events, MAY(28))["certainty"] == "possible"
    assert restriction(events, JUNE(1))["certainty"] == "possible"  # may be as late as 06-02
    assert restriction(events, JUNE(2))["certainty"] == "certain"


# --- known at -------------------------------------------------------------------------------


def test_known_at_uses_only_what_had_been_reported():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01"),
        change("decided", "r1", "conditional", "2024-05-15", reported="2024-05-30"),
    ]
    assert restriction(events, MAY(20), known_at=MAY(29))["status"] == "prohibited"
    assert restriction(events, MAY(20), known_at=MAY(30))["status"] == "conditional"


def test_a_known_at_before_the_as_of_date_is_a_fair_question():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01"),
        change("announced-ahead", "r1", "permitted", "2024-05-31", reported="2024-05-28"),
    ]
    assert restriction(events, MAY(31), known_at=MAY(27))["status"] == "prohibited"
    assert restriction(events, MAY(31), known_at=MAY(29))["status"] == "permitted"


# --- corrections ----------------------------------------------------------------------------


def test_a_retraction_removes_the_event_from_the_day_it_was_reported():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01"),
        change("rumour", "r1", "permitted", "2024-05-10"),
        retraction("rumour-retracted", "rumour", "2024-05-20"),
    ]
    assert restriction(events, MAY(25), known_at=MAY(19))["status"] == "permitted"
    assert restriction(events, MAY(25), known_at=MAY(20))["status"] == "prohibited"
    assert restriction(events, MAY(25))["events"] == ["ban"]


def test_an_amendment_changes_the_event_from_the_day_it_was_reported():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01"),
        change("decided", "r1", "conditional", "2024-05-10"),
        amendment("right-date", "decided", "2024-05-20", occurred="2024-05-15", restriction={"conditions": ["near Kharkiv"]}),
    ]
    before, after = restriction(events, MAY(12), known_at=MAY(19)), restriction(events, MAY(12), known_at=MAY(20))
    assert before["status"] == "conditional" and after["status"] == "prohibited"
    assert restriction(events, MAY(15))["conditions"] == ["near Kharkiv"]


def test_a_retracted_retraction_restores_the_event():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01"),
        change("decided", "r1", "conditional", "2024-05-10"),
        retraction("wrongly-retracted", "decided", "2024-05-12"),
        retraction("retraction-withdrawn", "wrongly-retracted", "2024-05-14"),
    ]
    assert restriction(events, MAY(20), known_at=MAY(13))["status"] == "prohibited"
    assert restriction(events, MAY(20), known_at=MAY(14))["status"] == "conditional"


def test_a_correction_not_yet_reported_changes_nothing():
    events = [change("decided", "r1", "conditional", "2024-05-10"), retraction("retracted", "decided", "2024-06-10")]
    assert restriction(events, JUNE(1), known_at=JUNE(1))["status"] == "conditional"
    assert restriction(events, JUNE(1)) is None


# --- alternative accounts ----------------------------------------------------------------------


def test_alternative_accounts_that_disagree_are_disputed_and_both_shown():
    kyiv = claim("kyiv-says", "zone", "ukraine", "2024-08-12", size=1000)
    moscow = alternative_of(claim("moscow-says", "zone", "ukraine", "2024-08-12", size=350), "kyiv-says")
    state = entity_state([kyiv, moscow], ("territory", "zone"), date(2024, 8, 20))
    assert state["disputed"] is True
    assert state["events"] == ["kyiv-says", "moscow-says"]
    assert state["size"] == {"value": 1000, "unit": "sq_km", "qualifier": "exact"}  # the earliest account, tie broken by id


def test_accounts_that_agree_are_disputed_only_between_their_dates():
    politico = change("politico", "r1", "conditional", "2024-05-30")
    wapo = alternative_of(change("wapo", "r1", "conditional", "2024-06-01"), "politico")
    events = [change("ban", "r1", "prohibited", "2024-05-01"), politico, wapo]
    assert restriction(events, MAY(29))["status"] == "prohibited"
    assert restriction(events, MAY(30))["status"] == "conditional"
    assert restriction(events, MAY(31))["disputed"] is True
    assert restriction(events, MAY(31))["events"] == ["ban", "politico", "wapo"]
    assert restriction(events, JUNE(1))["disputed"] is False


def test_alternative_accounts_are_grouped_transitively_and_the_earliest_account_decides():
    first = change("first", "r1", "permitted", "2024-05-12")
    second = alternative_of(change("second", "r1", "conditional", "2024-05-10"), "first")
    third = alternative_of(change("third", "r1", "prohibited", "2024-05-14"), "second")
    state = restriction([first, second, third], MAY(12))
    assert state["status"] == "conditional" and state["disputed"]
    assert state["events"] == ["second", "first", "third"]
    assert state["since"] == "2024-05-10"


def test_a_later_change_settles_a_disputed_field():
    kyiv = claim("kyiv-says", "zone", "ukraine", "2024-08-12", size=1000)
    moscow = alternative_of(claim("moscow-says", "zone", "ukraine", "2024-08-12", size=350), "kyiv-says")
    settled = claim("both-agree", "zone", "ukraine", "2024-08-25", size=1200)
    assert entity_state([kyiv, moscow, settled], ("territory", "zone"), date(2024, 8, 25))["disputed"] is False


def test_a_retracted_account_no_longer_disputes():
    kyiv = claim("kyiv-says", "zone", "ukraine", "2024-08-12", size=1000)
    moscow = alternative_of(claim("moscow-says", "zone", "ukraine", "2024-08-12", size=350), "kyiv-says")
    events = [kyiv, moscow, retraction("moscow-retracted", "moscow-says", "2024-08-20")]
    state = entity_state(events, ("territory", "zone"), date(2024, 8, 25))
    assert state["disputed"] is False and state["events"] == ["kyiv-says"]


# --- aid packages, positions, territory -----------------------------------------------------


def test_an_aid_package_is_announced_by_its_first_event_and_its_status_is_the_latest():
    events = [
        package(
            "announced",
            "pda-125m",
            "2024-08-09",
            tranche="PDA 62",
            value={"amount": "125000000", "qualifier": "up_to"},
            items=["HIMARS ammunition"],
        ),
        package("delivered", "pda-125m", "2024-09-01", measure="delivery", status="delivered"),
    ]
    aid = state_at(events, date(2024, 9, 2))["aid_packages"][0]
    assert aid["announced"] == "2024-08-09"
    assert aid["status"] == "delivered" and aid["measure"] == "delivery"
    assert aid["value"] == {"amount": 125000000, "currency": "USD", "qualifier": "up_to"}
    assert aid["items"] == ["HIMARS ammunition"] and aid["tranche"] == "PDA 62"
    assert aid["donor"] == "us" and aid["authority"] == "PDA"


def test_a_position_belongs_to_the_speaker_and_carries_the_quote():
    events = [
        stance("no-change", "kirby", "opposes", "2024-05-20", quote="Our policy has not changed."),
        stance("adapting", "kirby", "mixed", "2024-05-29"),
        stance("biden-on-it", "biden", "supports", "2024-05-30"),
    ]
    positions = {p["id"]: p for p in state_at(events, JUNE(1))["positions"]}
    assert positions["kirby:strikes-inside-russia"]["stance"] == "mixed"
    assert positions["kirby:strikes-inside-russia"]["since"] == "2024-05-29"
    assert positions["kirby:strikes-inside-russia"]["quote"] == "no change"  # the source's quote: the statement has none
    assert positions["biden:strikes-inside-russia"]["actor"] == "biden"
    assert positions["biden:strikes-inside-russia"]["question"] == "strikes-inside-russia"


def test_territory_holder_and_size_with_since_when_the_holder_changed():
    events = [
        claim("incursion", "zone", "ukraine", "2024-08-06", size=350),
        claim("advance", "zone", "ukraine", "2024-08-15", size=1150),
        claim("retaken", "zone", "us", "2024-09-20"),
    ]
    zone = state_at(events, date(2024, 8, 20))["territory"][0]
    assert zone["holder"] == "ukraine" and zone["size"] == {"value": 1150, "unit": "sq_km", "qualifier": "exact"}
    assert zone["since"] == "2024-08-06"
    later = state_at(events, date(2024, 9, 21))["territory"][0]
    assert later["holder"] == "us" and later["size"]["value"] == 1150 and later["since"] == "2024-09-20"


def test_state_at_can_give_only_some_projections():
    events = [change("ban", "r1", "prohibited", "2024-05-01"), claim("incursion", "zone", "ukraine", "2024-05-06")]
    assert set(state_at(events, JUNE(1), only=["territory"])) == {"territory"}


def test_an_amount_reads_the_same_each_time_and_as_text_or_not():
    from ledger.projections.base import number

    for _ in range(2):  # the second time from what the first kept
        assert [number(text) for text in ("125000000", "1.5", "1E+3", "NaN", "abc")] == [125000000, 1.5, 1000, None, None]
    assert [type(number(text)) for text in ("125000000", "1.5")] == [int, float]
    assert [number(value) for value in (125000000, 1.5, None)] == [125000000, 1.5, None]
