use crate::helpers::Harness;
pub async fn logs_of_whole_flows_carry_no_addresses_or_phone_numbers(_h: Harness) {}
