//! What the panel draws: a header, the list (or the empty and error states),
//! the selected item's detail with its actions or a question, and a footer.
//! Every value is its own text widget so that tests find it by its words.

use iced::widget::{
    button, center, checkbox, column, container, row, rule, scrollable, space, text, text_input,
    Column,
};
use iced::{border, font, Alignment, Color, Element, Font, Length, Theme};

use zion_bus::quarantine::ItemInfo;

use super::app::{App, Message};
use super::format::{self, Badge};
use super::model::{BulkRelease, Event, Notice, Panel, Request, SortKey, Status, Viewport};
use super::{names, window};

const MUTED: Color = Color::from_rgb(0.62, 0.64, 0.68);
const BOLD: Font = Font {
    weight: font::Weight::Bold,
    ..Font::DEFAULT
};

/// The whole window.
pub fn view(app: &App) -> Element<'_, Message> {
    let panel = &app.panel;
    let body: Element<'_, Message> = match &panel.status {
        Status::Unavailable { reason } => unavailable(reason, app.config.retry.as_secs()),
        Status::Connecting if panel.items.is_empty() => {
            center(text("Connecting to zion-sandboxd…").color(MUTED)).into()
        }
        _ if panel.items.values().all(|i| !Badge::of(i).is_waiting())
            && panel.shown_ids().is_empty() =>
        {
            empty()
        }
        _ => {
            let list = list(panel);
            match panel.selected_item().filter(|_| panel.detail) {
                Some(item) => row![
                    container(list).width(Length::FillPortion(3)),
                    rule::vertical(1),
                    container(detail(panel, item)).width(Length::FillPortion(2)),
                ]
                .spacing(12)
                .into(),
                None => list,
            }
        }
    };
    column![header(panel), filters(panel)]
        .push(bulk(panel))
        .push(rule::horizontal(1))
        .push(body)
        .push(footer(app))
        .spacing(10)
        .padding(16)
        .into()
}

fn header(panel: &Panel) -> Element<'_, Message> {
    let waiting = panel
        .visible()
        .iter()
        .filter(|i| Badge::of(i).is_waiting())
        .count();
    let status = match &panel.status {
        Status::Ready => match waiting {
            1 => "1 item waiting".to_owned(),
            n => format!("{n} items waiting"),
        },
        Status::Connecting => "connecting…".to_owned(),
        Status::Unavailable { .. } => "daemon not available".to_owned(),
    };
    row![
        text("Quarantine").size(22).font(BOLD),
        search(panel),
        space::horizontal(),
        text(status).color(MUTED),
    ]
    .spacing(16)
    .align_y(Alignment::Center)
    .into()
}

/// "All" and one button per profile items came from: transfers and
/// downloads side by side, filtered by where they came from.
fn filters(panel: &Panel) -> Element<'_, Message> {
    let choice = |label: String, from: Option<String>| {
        let chosen = panel.from == from;
        let b = button(text(label).size(13)).padding([2, 10]);
        let b = if chosen {
            b.style(button::primary)
        } else {
            b.style(button::secondary)
        };
        b.on_press(Message::Panel(Event::Filter(from)))
    };
    let mut buttons = vec![choice("All".to_owned(), None).into()];
    for p in panel.sources() {
        buttons.push(choice(format!("From {p}"), Some(p)).into());
    }
    buttons.push(space::horizontal().into());
    buttons.push(sort(panel));
    buttons.push(
        button(text("Select all shown").size(13))
            .padding([2, 10])
            .style(button::secondary)
            .on_press(Message::Panel(Event::MarkShown))
            .into(),
    );
    row(buttons).spacing(6).align_y(Alignment::Center).into()
}

/// The search field: names containing its words, in any case.
fn search(panel: &Panel) -> Element<'_, Message> {
    text_input("Search by name", &panel.query)
        .on_input(|q| Message::Panel(Event::Search(q)))
        .padding([4, 8])
        .width(Length::Fixed(280.0))
        .into()
}

/// One button per sort key (the chosen one shows its direction).
fn sort(panel: &Panel) -> Element<'_, Message> {
    let mut line = row![text("Sort").size(13).color(MUTED)]
        .spacing(6)
        .align_y(Alignment::Center);
    for key in SortKey::ALL {
        let chosen = panel.sort.key == key;
        let label = match (chosen, panel.sort.descending) {
            (true, false) => format!("{} ↑", key.label()),
            (true, true) => format!("{} ↓", key.label()),
            (false, _) => key.label().to_owned(),
        };
        let b = button(text(label).size(13)).padding([2, 10]);
        let b = if chosen {
            b.style(button::primary)
        } else {
            b.style(button::secondary)
        };
        line = line.push(b.on_press(Message::Panel(Event::Sort(key))));
    }
    line.into()
}

/// While items are ticked: how many, "Clear", and one release button per
/// destination (or its question). Nothing otherwise.
fn bulk(panel: &Panel) -> Option<Element<'_, Message>> {
    if let Some(b) = &panel.bulk {
        return Some(bulk_question(b));
    }
    let ticked = panel.ticked().len();
    if ticked == 0 {
        return None;
    }
    let mut line = row![
        text(format!("{ticked} selected")).color(MUTED),
        button(text("Clear").size(13))
            .padding([2, 10])
            .style(button::secondary)
            .on_press(Message::Panel(Event::ClearMarks)),
        space::horizontal(),
    ]
    .spacing(6)
    .align_y(Alignment::Center);
    for (label, destination) in panel.destinations() {
        let label = label.replacen("Release to", "Release clean to", 1);
        line = line.push(
            button(text(label).size(13))
                .padding([2, 10])
                .style(button::primary)
                .on_press(Message::Panel(Event::AskBulk(destination))),
        );
    }
    for (label, event) in [
        ("Hold", Event::HoldMarked(true)),
        ("Let go", Event::HoldMarked(false)),
    ] {
        line = line.push(
            button(text(label).size(13))
                .padding([2, 10])
                .style(button::secondary)
                .on_press(Message::Panel(event)),
        );
    }
    line = line.push(
        button(text("Delete selected").size(13))
            .padding([2, 10])
            .style(button::danger)
            .on_press(Message::Panel(Event::AskBulkDelete)),
    );
    Some(line.wrap().vertical_spacing(6).into())
}

fn bulk_question(bulk: &BulkRelease) -> Element<'_, Message> {
    container(
        row![
            text(&bulk.question).width(Length::Fill),
            button(text(&bulk.yes))
                .style(match bulk.action {
                    super::model::BulkAction::Delete => button::danger,
                    _ => button::primary,
                })
                .on_press(Message::Panel(Event::Confirm)),
            button("Cancel")
                .style(button::secondary)
                .on_press(Message::Panel(Event::Cancel)),
        ]
        .spacing(8)
        .align_y(Alignment::Center),
    )
    .padding(10)
    .width(Length::Fill)
    .style(container::bordered_box)
    .into()
}

fn unavailable(reason: &str, retry: u64) -> Element<'_, Message> {
    center(
        column![
            text("The quarantine daemon is not available")
                .size(20)
                .font(BOLD),
            text(reason).color(MUTED),
            text(match retry {
                1 => "Trying again every second…".to_owned(),
                n => format!("Trying again every {n} seconds…"),
            })
            .color(MUTED),
            button("Retry now").on_press(Message::Panel(Event::Retry)),
        ]
        .spacing(10)
        .align_x(Alignment::Center)
        .max_width(620),
    )
    .into()
}

fn empty<'a>() -> Element<'a, Message> {
    center(
        column![
            text("Nothing in quarantine").size(20).font(BOLD),
            text("Downloads and files sent between profiles wait here while they are scanned.")
                .color(MUTED),
        ]
        .spacing(8)
        .align_x(Alignment::Center),
    )
    .into()
}

/// Widths of the list's columns.
const SIZE_W: f32 = 72.0;
const AGE_W: f32 = 80.0;
const STATE_W: f32 = 90.0;
const CHECK_W: f32 = 24.0;

/// The list: a heading and a scrollable holding only the rows its
/// viewport shows (see [`window`]), with spacers standing for the rest.
fn list(panel: &Panel) -> Element<'_, Message> {
    let heading = |s: &'static str| text(s).size(12).color(MUTED);
    let head = row![
        space::horizontal().width(CHECK_W),
        heading("NAME").width(Length::FillPortion(5)),
        heading("SOURCE").width(Length::FillPortion(4)),
        heading("SIZE").width(SIZE_W),
        heading("AGE").width(AGE_W),
        heading("STATE").width(STATE_W),
    ]
    .spacing(8)
    .padding([0, 8]);
    let ids = panel.shown_ids();
    if ids.is_empty() {
        return center(text("Nothing here matches the search and the filter").color(MUTED)).into();
    }
    let rows = panel.rows();
    let mut body = Column::new();
    if rows.start > 0 {
        body = body.push(space::vertical().height(window::height(rows.start)));
    }
    for item in ids[rows.clone()]
        .iter()
        .filter_map(|id| panel.items.get(id))
    {
        body = body.push(list_row(panel, item));
    }
    if rows.end < ids.len() {
        body = body.push(space::vertical().height(window::height(ids.len() - rows.end)));
    }
    column![
        head,
        scrollable(body)
            .id(super::app::list_id())
            .on_scroll(|v| {
                Message::Panel(Event::Scrolled(Viewport::new(
                    v.absolute_offset().y,
                    v.bounds().height,
                )))
            })
            .height(Length::Fill)
    ]
    .spacing(6)
    .into()
}

/// One line of text that never wraps and never draws outside its column.
fn cell<'a>(words: String, width: Length) -> Element<'a, Message> {
    container(text(words).wrapping(text::Wrapping::None))
        .width(width)
        .clip(true)
        .into()
}

/// One row, exactly [`window::ROW_HEIGHT`] high whatever its item's name
/// holds (newlines, bidi overrides, 255 bytes: see [`names::one_line`]).
fn list_row<'a>(panel: &'a Panel, item: &'a ItemInfo) -> Element<'a, Message> {
    let selected = panel.selected == Some(item.id);
    let mut name = column![text(names::one_line(&item.name)).wrapping(text::Wrapping::None)];
    if let Some(left) = format::time_left(item, panel.policy.as_ref(), panel.now) {
        name = name.push(
            text(left)
                .size(12)
                .color(MUTED)
                .wrapping(text::Wrapping::None),
        );
    } else if item.held {
        name = name.push(text("held").size(12).color(MUTED));
    }
    let line = row![
        container(name).width(Length::FillPortion(5)).clip(true),
        cell(format::source(item), Length::FillPortion(4)),
        cell(format::size(item.size), Length::Fixed(SIZE_W)),
        cell(format::age(panel.now, item.added), Length::Fixed(AGE_W)),
        container(badge(Badge::of(item))).width(STATE_W),
    ]
    .spacing(8)
    .height(Length::Fill)
    .align_y(Alignment::Center);
    let id = item.id;
    let tick = checkbox(panel.marked.contains(&id)).on_toggle_maybe(
        Badge::of(item)
            .is_waiting()
            .then_some(move |on| Message::Panel(Event::Mark { id, on })),
    );
    container(
        row![
            container(tick).width(CHECK_W),
            button(line)
                .width(Length::Fill)
                .height(Length::Fill)
                .padding([4, 8])
                .on_press(Message::Row(id))
                .style(move |theme: &Theme, status| {
                    if selected {
                        button::primary(theme, status)
                    } else {
                        button::text(theme, status)
                    }
                }),
        ]
        .spacing(4)
        .align_y(Alignment::Center),
    )
    .height(window::ROW_HEIGHT as f32)
    .padding([1, 0])
    .clip(true)
    .into()
}

/// The badge's colour.
fn badge_color(badge: Badge) -> Color {
    match badge {
        Badge::Scanning => Color::from_rgb8(0x3b, 0x6e, 0xa8),
        Badge::Clean => Color::from_rgb8(0x2e, 0x8b, 0x57),
        Badge::Infected => Color::from_rgb8(0xc0, 0x39, 0x2b),
        Badge::Error => Color::from_rgb8(0xd3, 0x84, 0x1e),
        Badge::TooLarge => Color::from_rgb8(0x8e, 0x5b, 0xb5),
        Badge::Released | Badge::Deleted => Color::from_rgb8(0x5f, 0x66, 0x70),
    }
}

fn badge<'a>(badge: Badge) -> Element<'a, Message> {
    let color = badge_color(badge);
    container(text(badge.label()).size(12).color(Color::WHITE))
        .padding([2, 8])
        .style(move |_: &Theme| container::Style {
            background: Some(color.into()),
            border: border::rounded(9),
            ..container::Style::default()
        })
        .into()
}

fn field<'a>(label: &'a str, value: Element<'a, Message>) -> Element<'a, Message> {
    row![text(label).color(MUTED).width(110), value]
        .spacing(8)
        .into()
}

fn detail<'a>(panel: &'a Panel, item: &'a ItemInfo) -> Element<'a, Message> {
    let b = Badge::of(item);
    let mut info = column![row![
        text(names::one_line(&item.name)).size(20).font(BOLD),
        space::horizontal(),
        button("Close")
            .style(button::text)
            .on_press(Message::Panel(Event::CloseDetail)),
    ]
    .align_y(Alignment::Center),]
    .spacing(8);
    // The decision first, where it is seen without scrolling.
    if b.is_waiting() {
        info = info.push(match &panel.confirm {
            Some(confirm) if confirm.request.id() == item.id => question(confirm),
            _ => actions(panel, item, b),
        });
        info = info.push(rule::horizontal(1));
    }
    let mut state = row![badge(b)].spacing(8).align_y(Alignment::Center);
    if !item.detail.is_empty() {
        state = state.push(text(&item.detail).color(MUTED));
    }
    info = info.push(field("State", state.into()));
    if let Some(recall) = super::recall::of(&panel.recalls, item.id) {
        info = info.push(recall_section(panel, item, recall));
    }
    info = info.push(field("Source", text(format::source(item)).into()));
    // Where it was downloaded from, and who says so (issue 17).
    let archive = item.matches.iter().any(|m| !m.member.is_empty());
    for (label, line) in item.origin.lines(archive) {
        let label = match label {
            "from" => "From",
            "referrer" => "Referrer",
            "origin" => "Origin",
            _ => "",
        };
        let line = text(line).wrapping(text::Wrapping::Glyph);
        info = info.push(field(label, line.into()));
    }
    info = info.push(field(
        "Size",
        text(format!("{} ({} bytes)", format::size(item.size), item.size)).into(),
    ));
    info = info.push(field(
        "Added",
        text(format!(
            "{} ({})",
            format::utc(item.added),
            format::age(panel.now, item.added)
        ))
        .into(),
    ));
    if !item.sha256.is_empty() {
        info = info.push(field(
            "SHA-256",
            text(&item.sha256)
                .font(Font::MONOSPACE)
                .size(13)
                .wrapping(text::Wrapping::Glyph)
                .into(),
        ));
        let mime = panel.mime.get(&item.sha256).map_or("…", String::as_str);
        info = info.push(field("Type", text(mime).into()));
    }
    if !item.destination.is_empty() {
        info = info.push(field("Destination", text(&item.destination).into()));
    }
    if let Some(left) = format::time_left(item, panel.policy.as_ref(), panel.now) {
        info = info.push(field("Auto-release", text(left).into()));
    }
    if item.held {
        info = info.push(field("Held", text("yes: only you can release it").into()));
    }
    if !item.matches.is_empty() {
        info = info.push(text("Matched rules").font(BOLD));
        for m in &item.matches {
            let mut rule = column![text(&m.rule).font(BOLD)].spacing(4);
            if !m.member.is_empty() {
                rule = rule.push(field(
                    "Found in",
                    text(super::model::match_place(item, m)).into(),
                ));
            }
            if !m.description.is_empty() {
                rule = rule.push(field("Description", text(&m.description).into()));
            }
            if !m.author.is_empty() {
                rule = rule.push(field("Author", text(&m.author).into()));
            }
            if !m.tags.is_empty() {
                rule = rule.push(field("Tags", text(m.tags.join(", ")).into()));
            }
            if !m.namespace.is_empty() && m.namespace != "default" {
                rule = rule.push(field("Rule set", text(&m.namespace).into()));
            }
            info = info.push(
                container(rule)
                    .padding(8)
                    .width(Length::Fill)
                    .style(container::bordered_box),
            );
        }
    }
    scrollable(info.padding([0, 12])).into()
}

fn actions<'a>(panel: &'a Panel, item: &'a ItemInfo, b: Badge) -> Element<'a, Message> {
    let scanned = b != Badge::Scanning;
    let mut buttons = row![].spacing(8);
    for (label, destination) in panel.destinations() {
        let ask = Message::Panel(Event::Ask(Request::Release {
            id: item.id,
            destination,
        }));
        let style = if b.needs_override() {
            button::danger
        } else {
            button::primary
        };
        buttons = buttons.push(
            button(text(label))
                .style(style)
                .on_press_maybe(scanned.then_some(ask)),
        );
    }
    buttons = buttons.push(button("Rescan").style(button::secondary).on_press_maybe(
        scanned.then_some(Message::Panel(Event::Ask(Request::Rescan { id: item.id }))),
    ));
    // A safe copy of a PDF, an image or an office document (issue 17),
    // judged by its content.
    let mime = panel.mime.get(&item.sha256).map_or("", String::as_str);
    if crate::mime::sanitisable(mime) {
        buttons = buttons.push(button("Sanitise").style(button::secondary).on_press(
            Message::Panel(Event::Ask(Request::Sanitise { id: item.id })),
        ));
    }
    buttons = buttons.push(
        button("Delete")
            .style(button::danger)
            .on_press(Message::Panel(Event::Ask(Request::Delete { id: item.id }))),
    );
    buttons.wrap().vertical_spacing(8).into()
}

fn question(confirm: &super::model::Confirm) -> Element<'_, Message> {
    container(
        column![
            text(&confirm.question),
            row![
                button(text(&confirm.yes))
                    .style(button::danger)
                    .on_press(Message::Panel(Event::Confirm)),
                button("Cancel")
                    .style(button::secondary)
                    .on_press(Message::Panel(Event::Cancel)),
            ]
            .spacing(8),
        ]
        .spacing(10),
    )
    .padding(10)
    .width(Length::Fill)
    .style(container::bordered_box)
    .into()
}

fn footer(app: &App) -> Element<'_, Message> {
    let mut lines = column![].spacing(4);
    match &app.panel.notice {
        Some(Notice::Info(s)) => lines = lines.push(text(s)),
        Some(Notice::Error(s)) => lines = lines.push(text(s).color(badge_color(Badge::Infected))),
        None => {}
    }
    if let Some(problem) = &app.config.config_problem {
        lines = lines.push(text(format!("zion.toml: {problem}")).color(badge_color(Badge::Error)));
    }
    lines = lines.push(
        text("↑ ↓ select · Space or Ctrl-click tick · Shift-click tick a range · Enter open · Delete delete · Esc back")
            .size(12)
            .color(MUTED),
    );
    lines.into()
}

/// A recalled item: the rule, where every copy went and stands, and the
/// one action (asked first).
fn recall_section<'a>(
    panel: &'a Panel,
    item: &'a ItemInfo,
    recall: &'a zion_bus::recall::RecallInfo,
) -> Element<'a, Message> {
    let mut section = column![text(super::recall::headline(recall))
        .font(BOLD)
        .color(iced::Color::from_rgb(0.95, 0.45, 0.35))]
    .spacing(6);
    for line in super::recall::lines(recall) {
        section = section.push(text(line).size(13));
    }
    match &panel.confirm {
        Some(confirm) if confirm.request == (Request::MoveBack { id: item.id }) => {
            section = section.push(question(confirm));
        }
        _ if recall.returnable() > 0 && recall.covers(item.id) => {
            section = section.push(
                button(text(super::recall::action(recall)))
                    .style(button::danger)
                    .on_press(Message::Panel(Event::Ask(Request::MoveBack {
                        id: item.id,
                    }))),
            );
        }
        _ => {}
    }
    container(section)
        .padding(8)
        .width(Length::Fill)
        .style(container::bordered_box)
        .into()
}
