use crate::helpers::Harness;
pub async fn outputs_neutralise_formulas_and_escape_html(_h: Harness) {}
pub async fn names_cannot_inject_mail_headers(_h: Harness) {}
