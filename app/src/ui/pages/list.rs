//! The list shared by the inbox and the sent page: loading, opening every entry,
//! refreshing, and removing a row.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ui::components::Alert;
use crate::ui::files::{Direction, FileRow, load_rows};
use crate::ui::session::Session;

/// One row of the list; the handle is `Copy` and `Send`, the row stays on the page.
pub type RowHandle = StoredValue<Rc<FileRow>, LocalStorage>;

/// A row with the number of the load that produced it. Keying the list by both
/// renders every row again after a refresh, even when its file id is unchanged.
type ListItem = (u32, RowHandle);

/// The list's rows, provided as context to the row components.
#[derive(Clone, Copy)]
pub struct ListRows {
    rows: RwSignal<Vec<ListItem>>,
}

impl ListRows {
    /// Returns the rows of the files `sender` sent together as `transfer`, oldest
    /// first. The sender is part of the key because the server takes any transfer id
    /// from any account, so another account could reuse one it learned.
    pub fn transfer_rows(&self, sender: &str, transfer: &str) -> Vec<Rc<FileRow>> {
        let mut rows: Vec<Rc<FileRow>> = self.rows.with_untracked(|rows| {
            rows.iter()
                .map(|(_, row)| row.get_value())
                .filter(|row| in_transfer(row, sender, transfer))
                .collect()
        });
        rows.sort_by_key(|row| row.entry.created_at_ms);
        rows
    }

    /// Returns whether `file_id` is the first row of its transfer in the list, which
    /// shows the transfer's summary.
    pub fn leads_transfer(&self, file_id: &str, sender: &str, transfer: &str) -> bool {
        self.rows.with_untracked(|rows| {
            rows.iter()
                .map(|(_, row)| row.get_value())
                .find(|row| in_transfer(row, sender, transfer))
                .is_some_and(|row| row.entry.file_id == file_id)
        })
    }

    pub fn remove(&self, file_id: &str) {
        self.rows.update(|rows| {
            rows.retain(|(_, row)| row.with_value(|row| row.entry.file_id != file_id))
        });
    }
}

fn in_transfer(row: &FileRow, sender: &str, transfer: &str) -> bool {
    row.entry.sender == sender && row.entry.transfer.as_deref() == Some(transfer)
}

#[component]
pub fn FileList<F, V>(
    title: &'static str,
    empty: &'static str,
    direction: Direction,
    /// Renders one row.
    row: F,
    /// Runs at the start of every load of the list, the first one and each refresh.
    #[prop(optional)]
    on_load: Option<Callback<()>>,
) -> impl IntoView
where
    F: Fn(RowHandle) -> V + Send + Clone + 'static,
    V: IntoView + 'static,
{
    let session = Session::expect();
    let rows = RwSignal::new(Vec::<ListItem>::new());
    let generation = StoredValue::new(0u32);
    let loading = RwSignal::new(false);
    let loaded = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    provide_context(ListRows { rows });

    let load = move || {
        if loading.get_untracked() {
            return;
        }
        let Some(keys) = session.keys() else {
            error.set(Some("your keys are locked; log in again".to_owned()));
            return;
        };
        loading.set(true);
        error.set(None);
        if let Some(on_load) = on_load {
            on_load.run(());
        }
        spawn_local(async move {
            match load_rows(&keys, direction).await {
                Ok(loaded_rows) => {
                    generation.update_value(|count| *count = count.wrapping_add(1));
                    let load_number = generation.get_value();
                    let items = loaded_rows
                        .into_iter()
                        .map(|row| (load_number, StoredValue::new_local(Rc::new(row))))
                        .collect();
                    rows.set(items);
                    loaded.set(true);
                }
                Err(err) if session.sign_out_if_ended(&err) => {}
                Err(err) => error.set(Some(format!("loading the list failed: {err}"))),
            }
            loading.set(false);
        });
    };
    load();

    view! {
        <section class="card">
            <div class="section-head">
                <h1>{title}</h1>
                <button type="button" class="secondary" on:click=move |_| load()
                    disabled=move || loading.get()>
                    "Refresh"
                </button>
            </div>
            <Show when=move || loading.get() && !loaded.get()>
                <p class="muted" role="status">"Loading…"</p>
            </Show>
            <Alert error />
            <Show when=move || loaded.get() && rows.with(Vec::is_empty)>
                <p class="muted">{empty}</p>
            </Show>
            <ul class="file-list">
                <For
                    each=move || rows.get()
                    key=|(load_number, row)| {
                        (*load_number, row.with_value(|row| row.entry.file_id.clone()))
                    }
                    children=move |(_, handle)| row(handle)
                />
            </ul>
        </section>
    }
}
