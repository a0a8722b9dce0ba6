//! `dvbgate forget-password`: for an installer who lost the administrator password and
//! has the box in hand. The password goes, the configuration stays; at its next start
//! the daemon prints a setup code and the web page asks for a new password.

use anyhow::Context;
use clap::Args;
use dvbgate_store::Store;
use std::path::PathBuf;

#[derive(Args)]
pub struct ForgetPasswordArgs {
    /// Directory of the configuration store (stop the daemon first: the store has one
    /// user at a time).
    #[arg(long, default_value = "/var/lib/dvbgate")]
    data: PathBuf,
}

pub fn run(args: ForgetPasswordArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.data).with_context(|| {
        format!(
            "cannot open the configuration in {} (is the daemon still running?)",
            args.data.display()
        )
    })?;
    let had = store.admin_password_set()?;
    store.clear_admin_password()?;
    if had {
        println!(
            "The administrator password is gone; the configuration is kept. Start the daemon: it prints a setup code for the web page."
        );
    } else {
        println!("No administrator password was set; nothing changed.");
    }
    Ok(())
}
