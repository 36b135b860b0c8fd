use super::*;
use crate::standard::standard_objects;

fn account() -> ObjectDef {
    standard_objects()
        .into_iter()
        .find(|o| o.name() == "account")
        .unwrap()
}

fn rule(
    level: Option<&str>,
    follow: Option<u32>,
    won: Option<u32>,
    warn: Option<u32>,
) -> ReclaimRule {
    ReclaimRule {
        level: level.map(str::to_owned),
        no_follow_up_days: follow,
        no_won_deal_days: won,
        warn_days_before: warn,
    }
}

#[test]
fn a_level_takes_its_own_rule_and_the_rest_take_the_general_one() {
    let rules = PoolRules {
        reclaim: vec![
            rule(None, Some(30), None, Some(3)),
            rule(Some("a"), Some(90), Some(180), None),
        ],
        max_owned: vec![
            OwnedLimit {
                level: None,
                max: 200,
            },
            OwnedLimit {
                level: Some("a".into()),
                max: 20,
            },
        ],
        ..Default::default()
    };
    assert_eq!(
        rules.reclaim_rule(Some("a")).unwrap().no_follow_up_days,
        Some(90)
    );
    assert_eq!(
        rules.reclaim_rule(Some("b")).unwrap().no_follow_up_days,
        Some(30)
    );
    assert_eq!(
        rules.reclaim_rule(None).unwrap().no_follow_up_days,
        Some(30)
    );
    assert_eq!(rules.owned_limit(Some("a")).unwrap().max, 20);
    assert_eq!(rules.owned_limit(Some("c")).unwrap().max, 200);
    assert_eq!(rules.named_levels(), vec!["a".to_owned()]);
    assert!(rules.problems(&account()).is_empty());
}

#[test]
fn bad_rules_are_named_by_place() {
    let rules = PoolRules {
        reclaim: vec![
            rule(Some("z"), Some(30), None, Some(30)),
            rule(None, None, None, None),
            rule(None, Some(0), None, None),
        ],
        max_owned: vec![OwnedLimit {
            level: None,
            max: 0,
        }],
        max_claims_per_day: Some(0),
        reclaim_cooldown_days: Some(5000),
    };
    let found: Vec<(String, &str)> = rules
        .problems(&account())
        .iter()
        .map(|e| (e.field.clone(), e.code.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("reclaim.0.level".to_owned(), "unknown_picklist_value"),
            ("reclaim.0.warn_days_before".to_owned(), "too_large"),
            ("reclaim.1.no_follow_up_days".to_owned(), "required"),
            ("reclaim.2.level".to_owned(), "duplicate"),
            ("reclaim.2.no_follow_up_days".to_owned(), "too_large"),
            ("max_owned.0.max".to_owned(), "too_small"),
            ("max_claims_per_day".to_owned(), "too_small"),
            ("reclaim_cooldown_days".to_owned(), "too_large"),
        ]
    );
    let lead = standard_objects()
        .into_iter()
        .find(|o| o.name() == "lead")
        .unwrap();
    let won = PoolRules {
        reclaim: vec![rule(None, None, Some(30), None)],
        ..Default::default()
    };
    assert_eq!(won.problems(&lead)[0].field, "reclaim.0.no_won_deal_days");
}
