//! Access: the tile answer for one address depends on the building and that address only; it
//! reads no other person's record and carries nothing about anyone else. The 100-address batch
//! limit holds in the use case, whoever calls it. (The HTTP function's own checks — IAM auth,
//! 400/413 answers — are tested in `functions/tile-check`; the policies in `template.rs`.)

use crate::data::*;
use crate::faults::FaultyTable;
use crate::helpers::*;
use onboarding::app::{tile, AppError};
use onboarding::domain::tile::{TileAnswer, MAX_BATCH};
use onboarding::domain::values::Email;

async fn answer(table: &dyn onboarding::ports::Table, building_id: &str, emails: &[Email]) -> Vec<TileAnswer> {
    tile::check_tile(table, &building(building_id), emails).await.unwrap()
}

pub async fn tile_answers_reveal_nothing_about_other_users(h: Harness) {
    h.with_buildings().await;
    h.go_live(ONE_MARKET).await;
    h.go_live(HARBOR_VIEW).await;
    let ada = email("ada@acme.example");
    let stranger = email("stranger@else.example");
    // Asked about Ada and a stranger while the buildings have no contacts at all.
    let alone = [
        answer(h.table.as_ref(), ONE_MARKET, std::slice::from_ref(&ada)).await,
        answer(h.table.as_ref(), HARBOR_VIEW, std::slice::from_ref(&stranger)).await,
    ];

    // Many other people arrive, in both buildings, with grants.
    h.upload(&format!("inbox/tenants/{ONE_MARKET}/c.csv"), &tenants_csv(40)).await;
    h.upload(&format!("inbox/tenants/{HARBOR_VIEW}/c.csv"), &tenants_csv(40)).await;
    let crowd = [
        answer(h.table.as_ref(), ONE_MARKET, std::slice::from_ref(&ada)).await,
        answer(h.table.as_ref(), HARBOR_VIEW, std::slice::from_ref(&stranger)).await,
    ];
    assert_eq!(alone, crowd, "an answer does not change with other people's data");

    // In a batch with granted people, each answer is the one it gets alone, in order.
    let others: Vec<Email> = (0..5).map(|i| email(&format!("person{i}@tenant.example"))).collect();
    let mut batch = others.clone();
    batch.insert(2, ada.clone());
    let answers = answer(h.table.as_ref(), ONE_MARKET, &batch).await;
    assert_eq!(answers[2], crowd[0][0]);
    for (i, other) in others.iter().enumerate() {
        let position = if i < 2 { i } else { i + 1 };
        assert_eq!(answers[position], answer(h.table.as_ref(), ONE_MARKET, std::slice::from_ref(other)).await[0]);
    }

    // The check for Ada reads the building and Ada's grant, nothing else.
    let spy = FaultyTable::new(h.table.as_ref(), u64::MAX, false);
    answer(&spy, ONE_MARKET, std::slice::from_ref(&ada)).await;
    for call in spy.log() {
        assert!(!call.contains("person") && !call.contains("list") && !call.contains("count"), "reads another person's data: {call}");
    }
    assert!(spy.log().iter().any(|c| c.contains("ada@acme.example")), "{:?}", spy.log());

    // What goes back is three fields, none of them about anyone.
    let json = serde_json::to_value(crowd[0][0]).unwrap();
    // (Key order depends on serde_json's preserve_order feature, which the workspace may unify in.)
    let mut fields: Vec<&String> = json.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["can_register_visitors", "reason", "visible"]);
    let text = serde_json::to_string(&answers).unwrap();
    assert!(!text.contains('@') && !text.contains("person") && !text.contains("+1"), "{text}");

    // An unknown building answers the same for anyone, and reads no grant.
    let spy = FaultyTable::new(h.table.as_ref(), u64::MAX, false);
    let unknown = answer(&spy, "00000000-0000-4000-8000-000000000000", &[ada.clone(), others[0].clone()]).await;
    assert_eq!(unknown[0], unknown[1]);
    assert_eq!(spy.calls(), 1, "{:?}", spy.log());
}

pub async fn tile_batches_are_limited_to_100(h: Harness) {
    h.with_buildings().await;
    let batch: Vec<Email> = (0..=MAX_BATCH).map(|i| email(&format!("visitor{i}@acme.example"))).collect();
    let spy = FaultyTable::new(h.table.as_ref(), u64::MAX, false);
    match tile::check_tile(&spy, &building(ONE_MARKET), &batch).await {
        Err(AppError::Rejected(rejection)) => {
            assert_eq!(rejection.code, "batch_too_large");
            assert!(rejection.message.contains("101") && rejection.message.contains("Split"), "{}", rejection.message);
        }
        other => panic!("101 addresses were answered: {other:?}"),
    }
    assert_eq!(spy.calls(), 0, "refused before any read");
    let answers = tile::check_tile(h.table.as_ref(), &building(ONE_MARKET), &batch[..MAX_BATCH]).await.unwrap();
    assert_eq!(answers.len(), MAX_BATCH);
}
