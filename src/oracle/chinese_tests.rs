//! The classical text's readings corrected against the received text (see `assets/PROVENANCE.md`,
//! "Collation with a second transcription", and `CORRECTIONS` in `scripts/convert-yijing.py`).
//! Each assertion names the corrected reading; every one failed on the text as it came.

use super::chinese::chinese;

fn text(number: u8) -> &'static super::Chinese {
    chinese(number).unwrap()
}

fn wenyan(number: u8) -> String {
    text(number).wenyan.as_ref().unwrap().concat()
}

#[test]
fn the_judgments_read_as_received() {
    // 剥 23: "it will not be advantageous to make a movement", as Legge translates, unbroken.
    assert_eq!(text(23).judgment, "剥：不利有攸往。");
}

#[test]
fn the_line_statements_read_as_received() {
    assert!(text(17).line_text(3).contains("随有求得，利居贞。"));
    assert!(text(24).line_text(1).contains("不远复"));
    assert!(text(24).line_text(1).contains("无祗悔"));
    assert!(text(44).line_text(1).contains("羸豕孚蹢躅"));
    assert!(text(47).line_text(2).contains("利用享祀"));
    assert!(text(48).line_text(5).contains("井洌"));
    assert!(text(53).line_text(1).contains("鸿渐于干"));
    assert!(text(55).line_text(3).contains("日中见沬"));
    assert!(text(61).line_text(1).contains("有它不燕"));
}

#[test]
fn the_tuan_reads_as_received() {
    assert!(text(1).tuan.contains("保合大和，乃利贞"), "no variant note");
    assert!(text(17).tuan.contains("随时之义大矣哉"));
    assert!(text(27).tuan.contains("颐之时大矣哉"));
    assert!(text(28).tuan.contains("大过之时大矣哉"));
    assert!(text(29).tuan.contains("险之时用大矣哉"));
    assert!(text(40).tuan.contains("解之时大矣哉"));
    assert!(text(49).tuan.contains("革而信之"));
    assert!(text(49).tuan.contains("革之时大矣哉"));
    assert!(text(62).tuan.contains("之象焉，飞鸟遗之音"));
}

#[test]
fn the_images_read_as_received() {
    assert!(text(23).image.starts_with("山附于地"));
    assert!(text(4).line_image(6).starts_with("利用御寇"));
    assert!(text(9).line_image(4).starts_with("有孚惕出，"));
    assert!(text(29).line_image(4).contains("刚柔际也"));
    assert!(text(43).line_image(2).starts_with("有戎勿恤，得中道也"));
    assert!(text(55).line_image(4).ends_with("遇其夷主，吉行也。"));
    assert!(text(60).line_image(2).starts_with("不出门庭凶，"));
    assert!(text(61).line_image(3).starts_with("或鼓或罢，"));
}

#[test]
fn the_wenyan_reads_as_received() {
    assert!(wenyan(1).contains("大哉乾乎！刚健中正"));
    assert!(wenyan(2).contains("含之以从王事"));
}

#[test]
fn the_xugua_and_zagua_read_as_received() {
    assert!(text(31).xugua.contains("礼义有所错"));
    assert!(text(34).xugua.starts_with("物不可以终遁"));
    assert!(text(40).xugua.starts_with("物不可以终难"));
    assert!(text(63).xugua.contains("故受之以既济"));
    assert!(text(43).zagua.contains("小人道忧也"));
}
