//! Small helpers shared by the capability modules.

/// The global ID clients see for a row.
pub fn global_id(kind: &str, id: i32) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}
