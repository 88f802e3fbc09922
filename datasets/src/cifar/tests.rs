use super::*;
use std::fs;

fn images(n: usize) -> Vec<[u8; CIFAR_PIXELS]> {
    (0..n)
        .map(|i| {
            let mut im = [0u8; CIFAR_PIXELS];
            for (j, p) in im.iter_mut().enumerate() {
                *p = ((i * 7 + j) % 256) as u8;
            }
            im
        })
        .collect()
}

#[test]
fn cifar10_records_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let ims = images(4);
    for (k, name) in CifarKind::Cifar10
        .file_names(CifarSplit::Train)
        .iter()
        .enumerate()
    {
        let labels: Vec<u8> = (0..4).map(|i| ((i + k) % 10) as u8).collect();
        write_cifar_bin(
            &dir.path().join(name),
            CifarKind::Cifar10,
            &ims,
            &labels,
            &[],
        )
        .unwrap();
    }
    let set = CifarDataset::from_dir(dir.path(), CifarKind::Cifar10, CifarSplit::Train).unwrap();
    assert_eq!(set.len(), 20);
    assert_eq!(set.label(5), Some(2)); // file 2, record 1: (1 + 1) % 10
    assert_eq!(set.image(6).unwrap(), &ims[2][..]);
    assert_eq!(set.get(3).unwrap().coarse_label, None);
    assert_eq!(set.class_counts().iter().sum::<usize>(), 20);
}

#[test]
fn cifar100_coarse_and_fine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.bin");
    write_cifar_bin(
        &path,
        CifarKind::Cifar100,
        &images(3),
        &[99, 0, 42],
        &[19, 0, 7],
    )
    .unwrap();
    let set = CifarDataset::from_dir(dir.path(), CifarKind::Cifar100, CifarSplit::Test).unwrap();
    assert_eq!(set.labels(), vec![99, 0, 42]);
    assert_eq!(set.coarse_label(2), Some(7));
    let batch = CifarBatcher::new(CifarTransform::eval()).batch(
        vec![set.get(0).unwrap(), set.get(2).unwrap()],
        &Device::flex(),
    );
    let coarse = batch.coarse_targets.unwrap().into_data().convert::<i64>();
    assert_eq!(coarse.try_to_vec::<i64>().unwrap(), vec![19, 7]);
}

#[test]
fn partial_record_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_1.bin");
    write_cifar_bin(&path, CifarKind::Cifar10, &images(2), &[1, 2], &[]).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes.truncate(3073 + 1000);
    fs::write(&path, bytes).unwrap();
    let msg = CifarDataset::from_files(CifarKind::Cifar10, &[path])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("data_batch_1.bin"), "{msg}");
    assert!(
        msg.contains("size 4073 bytes is not a whole number of 3073-byte"),
        "{msg}"
    );
}

#[test]
fn label_out_of_range_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    write_cifar_bin(&path, CifarKind::Cifar10, &images(3), &[1, 2, 10], &[]).unwrap();
    let msg = CifarDataset::from_files(CifarKind::Cifar10, &[path])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("test_batch.bin"), "{msg}");
    assert!(
        msg.contains("label 10 of record 2 is out of range (expected 0..10)"),
        "{msg}"
    );
    let path = dir.path().join("train.bin");
    write_cifar_bin(&path, CifarKind::Cifar100, &images(2), &[5, 5], &[3, 20]).unwrap();
    let msg = CifarDataset::from_files(CifarKind::Cifar100, &[path])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("train.bin"), "{msg}");
    assert!(
        msg.contains("label 20 of record 1 is out of range (expected 0..20)"),
        "{msg}"
    );
}

#[test]
fn empty_and_missing_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    fs::write(&path, b"").unwrap();
    let msg = CifarDataset::from_files(CifarKind::Cifar10, &[path])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("test_batch.bin") && msg.contains("empty"),
        "{msg}"
    );
    let msg = CifarDataset::from_dir(dir.path(), CifarKind::Cifar100, CifarSplit::Train)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("train.bin") && msg.contains("not found"),
        "{msg}"
    );
}

#[test]
fn gcn_gives_zero_mean_unit_std() {
    let image = images(1)[0];
    let mut out = [0f32; CIFAR_PIXELS];
    CifarTransform::eval().apply(&image, None, &mut out);
    let n = CIFAR_PIXELS as f32;
    let mean = out.iter().sum::<f32>() / n;
    let var = out.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    assert!(
        mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
        "{mean} {var}"
    );
    let t = CifarTransform::eval().with_gcn(Gcn::Norm { scale: 55.0 });
    t.apply(&image, None, &mut out);
    let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 55.0).abs() < 1e-2, "{norm}");
    let t = CifarTransform::eval().with_gcn(Gcn::Off);
    t.apply(&[255; CIFAR_PIXELS], None, &mut out);
    assert!(out.iter().all(|&v| v == 1.0));
    // A constant image does not divide by zero.
    CifarTransform::eval().apply(&[9; CIFAR_PIXELS], None, &mut out);
    assert!(out.iter().all(|&v| v == 0.0));
}

#[test]
fn crop_and_mirror_move_pixels() {
    // One bright pixel at (c=0, y=10, x=3); no GCN so values are easy to follow.
    let mut image = [0u8; CIFAR_PIXELS];
    image[10 * 32 + 3] = 255;
    let t = CifarTransform::train(1).with_gcn(Gcn::Off);
    let mut seen = std::collections::HashSet::new();
    let mut rng = SplitMix64::new(5);
    for _ in 0..200 {
        let mut out = [0f32; CIFAR_PIXELS];
        t.apply(&image, Some(&mut rng), &mut out);
        let lit: Vec<usize> = (0..CIFAR_PIXELS).filter(|&i| out[i] == 1.0).collect();
        assert!(lit.len() <= 1);
        if let Some(&i) = lit.first() {
            let (y, x) = (i / 32, i % 32);
            assert!(i < 1024);
            // Shift by at most 8 in each direction, possibly mirrored.
            assert!((y as i32 - 10).abs() <= 8);
            assert!((x as i32 - 3).abs() <= 8 || (x as i32 - 28).abs() <= 8);
            seen.insert((y, x));
        }
    }
    assert!(seen.len() > 20, "{}", seen.len());
    // No augmentation: identity.
    let mut out = [0f32; CIFAR_PIXELS];
    t.apply(&image, None, &mut out);
    assert_eq!(out[10 * 32 + 3], 1.0);
}

#[test]
fn batches_are_deterministic_under_a_seed() {
    let device = Device::flex();
    let items: Vec<CifarItem> = images(4)
        .into_iter()
        .map(|image| CifarItem {
            image,
            label: 3,
            coarse_label: None,
        })
        .collect();
    let run = |seed| {
        let b = CifarBatcher::new(CifarTransform::train(seed));
        let first = b.batch(items.clone(), &device).images.into_data();
        let second = b.batch(items.clone(), &device).images.into_data();
        (
            first.try_to_vec::<f32>().unwrap(),
            second.try_to_vec::<f32>().unwrap(),
        )
    };
    let (a1, a2) = run(11);
    let (b1, b2) = run(11);
    let (c1, _) = run(12);
    assert_eq!(a1, b1);
    assert_eq!(a2, b2);
    assert_ne!(a1, a2);
    assert_ne!(a1, c1);
    let batch = CifarBatcher::new(CifarTransform::eval()).batch(items, &device);
    assert_eq!(batch.images.dims(), [4, 3, 32, 32]);
    assert_eq!(batch.targets.dims(), [4]);
    assert!(batch.coarse_targets.is_none());
}

#[test]
fn png_dir_loader_orders_by_index() {
    let dir = tempfile::tempdir().unwrap();
    for (idx, label, value) in [(1u32, 8u8, 200u8), (0, 3, 10)] {
        let path = dir.path().join(format!("cifar10_{idx:02}_{label}.png"));
        let file = fs::File::create(&path).unwrap();
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), 32, 32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        let mut data = vec![value; 32 * 32 * 3];
        data[0] = 1; // R of (0,0)
        data[1] = 2; // G of (0,0)
        w.write_image_data(&data).unwrap();
    }
    fs::write(dir.path().join("other.txt"), b"x").unwrap();
    let set = CifarDataset::from_png_dir(dir.path(), "cifar10_", CifarKind::Cifar10).unwrap();
    assert_eq!(set.labels(), vec![3, 8]);
    let im = set.image(0).unwrap();
    assert_eq!((im[0], im[1024], im[2048], im[1]), (1, 2, 10, 10));
    // A wrong-sized PNG.
    let path = dir.path().join("cifar10_02_1.png");
    let mut enc = png::Encoder::new(fs::File::create(&path).unwrap(), 16, 16);
    enc.set_color(png::ColorType::Grayscale);
    enc.write_header()
        .unwrap()
        .write_image_data(&[0; 256])
        .unwrap();
    let msg = CifarDataset::from_png_dir(dir.path(), "cifar10_", CifarKind::Cifar10)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("cifar10_02_1.png") && msg.contains("found 16x16"),
        "{msg}"
    );
}
