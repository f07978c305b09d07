//! The `kyc-desk` binary: everything is in the library (src-tauri/lib.rs).
fn main() -> std::process::ExitCode {
    kyc_desk_app::main()
}
