//! One module per page, and the file list the inbox and the sent page share.

mod inbox;
mod list;
mod login;
mod register;
mod send;
mod sent;

pub use inbox::InboxPage;
pub use login::LoginPage;
pub use register::RegisterPage;
pub use send::SendPage;
pub use sent::SentPage;
