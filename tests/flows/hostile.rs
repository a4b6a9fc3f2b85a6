use crate::helpers::Harness;
pub async fn every_hostile_file_gets_a_clear_answer_and_writes_nothing_when_rejected(_h: Harness) {}
pub async fn hostile_keys_are_refused_or_ignored(_h: Harness) {}
