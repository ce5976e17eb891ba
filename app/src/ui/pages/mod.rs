//! One module per page, and the file list the inbox and the sent page share.

mod inbox;
mod link;
mod list;
mod login;
mod register;
mod send;
mod sent;
mod sent_links;

pub use inbox::InboxPage;
pub use link::LinkPage;
pub use login::LoginPage;
pub use register::RegisterPage;
pub use send::SendPage;
pub use sent::SentPage;
