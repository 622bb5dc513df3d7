//! Small generated evidence files for the demo: a picture (a PNG drawn here, no image library)
//! and a one-page PDF report. Made-up content, a few kilobytes each.

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend(kind);
    out.extend(data);
    let crc = crc32(&out[start..]);
    out.extend(crc.to_be_bytes());
}

/// A zlib stream of `data` in stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend(*block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

/// A 96 × 64 picture of a service post under a sky, its roof in a colour chosen by `seed`:
/// an 8-bit palette PNG.
pub fn photo(seed: usize) -> Vec<u8> {
    const W: usize = 96;
    const H: usize = 64;
    let roofs = [
        [0xC0, 0x39, 0x2B],
        [0x27, 0xAE, 0x60],
        [0x29, 0x80, 0xB9],
        [0xD3, 0x54, 0x00],
    ];
    let palette: [[u8; 3]; 6] = [
        [0x87, 0xCE, 0xEB], // sky
        [0x6A, 0xA8, 0x4F], // grass
        [0xF5, 0xF0, 0xE1], // wall
        roofs[seed % roofs.len()],
        [0x5D, 0x40, 0x37], // door
        [0xFF, 0xD5, 0x4F], // sun
    ];
    let mut raw = Vec::with_capacity(H * (W + 1));
    for y in 0..H {
        raw.push(0); // no filter
        for x in 0..W {
            let (dx, dy) = (x as i32 - 80, y as i32 - 12);
            let colour = if dx * dx + dy * dy < 36 {
                5
            } else if (40..56).contains(&y) && (30..66).contains(&x) {
                if (46..56).contains(&y) && (44..52).contains(&x) {
                    4
                } else {
                    2
                }
            } else if (26..40).contains(&y) && (x as i32 - 48).abs() <= (y as i32 - 24) * 2 {
                3
            } else {
                // grass below, sky above
                u8::from(y >= 52)
            };
            raw.push(colour);
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend((W as u32).to_be_bytes());
    header.extend((H as u32).to_be_bytes());
    header.extend([8, 3, 0, 0, 0]);
    chunk(&mut out, *b"IHDR", &header);
    chunk(&mut out, *b"PLTE", palette.as_flattened());
    chunk(&mut out, *b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, *b"IEND", &[]);
    out
}

/// A one-page PDF with a title and lines of text (ASCII; other characters become `?`).
pub fn report(title: &str, lines: &[String]) -> Vec<u8> {
    let escape = |text: &str| -> String {
        text.chars()
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                c if c.is_ascii() && !c.is_ascii_control() => c.to_string(),
                _ => "?".to_owned(),
            })
            .collect()
    };
    let mut content = format!("BT /F1 16 Tf 56 780 Td ({}) Tj ET\n", escape(title));
    for (n, line) in lines.iter().enumerate() {
        content.push_str(&format!(
            "BT /F1 11 Tf 56 {} Td ({}) Tj ET\n",
            748 - 18 * n,
            escape(line)
        ));
    }
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", n + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_what_evidence_keeps() {
        let png = photo(3);
        assert_eq!(
            crate::domain::evidence::sniff(&png).map(|t| t.mime).ok(),
            Some("image/png")
        );
        let size = imagesize::blob_size(&png).expect("a PNG header");
        assert_eq!((size.width, size.height), (96, 64));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the standard check value");
        let pdf = report("Laporan (uji)", &["baris satu".to_owned()]);
        assert_eq!(
            crate::domain::evidence::sniff(&pdf).map(|t| t.mime).ok(),
            Some("application/pdf")
        );
        assert!(String::from_utf8_lossy(&pdf).contains("(Laporan \\(uji\\)) Tj"));
    }
}
