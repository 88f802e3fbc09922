//! Tests on the real data sets, from the cache that `bash scripts/fetch-data.sh` fills
//! (`$HIGHWAY_ZOO_DATA`, default `~/.cache/highway-zoo`). Each test is skipped, with a
//! message, when its files are absent, and fails under CI (`CI=true`), which runs the fetch
//! script first. No test downloads.

use std::path::PathBuf;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use datasets::cifar::{CIFAR_PIXELS, write_cifar_bin};
use datasets::*;

/// The directory of `name` in the cache, or `None` (and a SKIPPED line; under CI a failure:
/// [`missing_in_test`]) when absent.
fn cached(name: DatasetName) -> Option<PathBuf> {
    let dir = name.locate(None);
    if dir.is_none() {
        missing_in_test(&name.to_string());
    }
    dir
}

#[test]
fn mnist_real() {
    let Some(dir) = cached(DatasetName::Mnist) else {
        return;
    };
    let start = Instant::now();
    let train = MnistDataset::from_dir(&dir, MnistSplit::Train).unwrap();
    let test = MnistDataset::from_dir(&dir, MnistSplit::Test).unwrap();
    eprintln!("MNIST train+test loaded in {:?}", start.elapsed());
    assert_eq!(train.len(), 60_000);
    assert_eq!(test.len(), 10_000);
    assert_eq!(&train.labels()[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(train.class_counts().iter().sum::<usize>(), 60_000);
    let (mean, std) = train.pixel_mean_std();
    assert!(
        (mean - 0.1307).abs() < 1e-3 && (std - 0.3081).abs() < 1e-3,
        "{mean} {std}"
    );

    let items: Vec<MnistItem> = (0..128).map(|i| train.get(i).unwrap()).collect();
    let batcher = MnistBatcher::new();
    let device = Device::flex();
    let batch = batcher.batch(items, &device);
    assert_eq!(batch.images.dims(), [128, 784]);
    assert_eq!(batch.images_nchw().dims(), [128, 1, 28, 28]);
    let v = batch.images.into_data().try_to_vec::<f32>().unwrap();
    assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    let t = batch
        .targets
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    assert_eq!(&t[..5], &[5, 0, 4, 1, 9]);

    // Batcher throughput (items/s) over the whole training set.
    let start = Instant::now();
    let mut n = 0;
    for chunk in (0..train.len()).collect::<Vec<_>>().chunks(128) {
        let items: Vec<MnistItem> = chunk.iter().map(|&i| train.get(i).unwrap()).collect();
        n += batcher.batch(items, &device).targets.dims()[0];
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "MNIST batcher: {n} items in {secs:.2} s = {:.0} items/s",
        n as f64 / secs
    );
    assert_eq!(n, 60_000);

    let report = DatasetName::Mnist.check(None).unwrap();
    assert_eq!(report.files.len(), 4);
}

#[test]
fn fashion_mnist_real() {
    let Some(dir) = cached(DatasetName::FashionMnist) else {
        return;
    };
    let train = MnistDataset::from_dir(&dir, MnistSplit::Train).unwrap();
    let test = MnistDataset::from_dir(&dir, MnistSplit::Test).unwrap();
    assert_eq!(train.class_counts(), [6_000; 10]);
    assert_eq!(test.class_counts(), [1_000; 10]);
    let (mean, std) = train.pixel_mean_std();
    let (m, s) = MnistKind::FashionMnist.mean_std();
    assert!(
        (mean - m as f64).abs() < 1e-3 && (std - s as f64).abs() < 1e-3,
        "{mean} {std}"
    );
    DatasetName::FashionMnist.check(None).unwrap();
    // A fixed validation split carved from train.
    let (tr, va) = train.split_validation(10_000, Some(1)).unwrap();
    let (tr2, va2) = train.split_validation(10_000, Some(1)).unwrap();
    assert_eq!((tr.len(), va.len()), (50_000, 10_000));
    assert_eq!(va.labels(), va2.labels());
    assert_eq!(tr.labels(), tr2.labels());
}

#[test]
fn ptb_real() {
    let Some(dir) = cached(DatasetName::Ptb) else {
        return;
    };
    let start = Instant::now();
    let corpus = PtbCorpus::from_dir(&dir).unwrap();
    let bptt = corpus.bptt(PtbSplit::Train, 20, 35).unwrap();
    eprintln!("PTB tokenised + batchified in {:?}", start.elapsed());
    assert_eq!(corpus.train.len(), 929_589);
    assert_eq!(corpus.valid.len(), 73_760);
    assert_eq!(corpus.test.len(), 82_430);
    assert_eq!(corpus.vocab.len(), 10_000);
    assert_eq!(corpus.vocab.word(0), Some("aer"));
    assert!(corpus.vocab.id("<unk>").is_some());

    // Truncated BPTT: 20 contiguous rows of 46,479 tokens, 1,327 windows of 35.
    assert_eq!(bptt.row_len(), 929_589 / 20);
    assert_eq!(bptt.num_windows(), (929_589 / 20 - 1) / 35);
    let cols = bptt.row_len();
    for r in [0, 7, 19] {
        assert_eq!(bptt.row(r), &corpus.train[r * cols..(r + 1) * cols]);
    }
    let windows: Vec<BpttWindow> = bptt.iter().collect();
    assert_eq!(windows.len(), bptt.num_windows());
    for (k, w) in windows.iter().enumerate().step_by(97) {
        for r in 0..20 {
            let row = &w.inputs[r * 35..(r + 1) * 35];
            let tgt = &w.targets[r * 35..(r + 1) * 35];
            assert_eq!(&row[1..], &tgt[..34]);
            let expect: Vec<i64> = corpus.train[r * cols + k * 35..r * cols + k * 35 + 36]
                .iter()
                .map(|&t| t as i64)
                .collect();
            assert_eq!(row, &expect[..35]);
            assert_eq!(tgt, &expect[1..]);
        }
    }
    let (x, y) = windows[0].to_tensors(&Device::flex());
    assert_eq!((x.dims(), y.dims()), ([20, 35], [20, 35]));
    DatasetName::Ptb.check(None).unwrap();
}

#[test]
fn wiki_char_splits_real() {
    let Some(_) = cached(DatasetName::Wiki) else {
        return;
    };
    let raw = CharCorpus::wiki(None, CharFilter::Raw).unwrap();
    assert_eq!(raw.len(), 6_089_746);
    assert_eq!(
        (raw.train.len(), raw.valid.len(), raw.test.len()),
        (5_480_771, 304_487, 304_488)
    );
    assert_eq!(raw.vocab.len(), 201);
    let text8 = CharCorpus::wiki(None, CharFilter::Text8).unwrap();
    assert_eq!(text8.len(), 5_241_430);
    assert_eq!(
        (text8.train.len(), text8.valid.len(), text8.test.len()),
        (4_717_287, 262_071, 262_072)
    );
    assert_eq!(text8.vocab.symbols(), b" abcdefghijklmnopqrstuvwxyz");
    let b = raw.bptt(CharSplit::Train, 128, 50).unwrap();
    let w = b.window(3).unwrap();
    assert_eq!(&w.inputs[1..50], &w.targets[..49]);
    assert_eq!(b.row(1), &raw.train[b.row_len()..2 * b.row_len()]);
    DatasetName::Wiki.check(None).unwrap();
}

const FOOLBOX_LABELS: [u8; 20] = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6];

#[test]
fn cifar10_real_test_images() {
    let Some(dir) = cached(DatasetName::Cifar10Samples) else {
        return;
    };
    let set = CifarDataset::cifar10_samples(None).unwrap();
    assert_eq!(set.len(), 20);
    assert_eq!(set.labels(), FOOLBOX_LABELS);
    DatasetName::Cifar10Samples.check(None).unwrap();

    // Write the 20 real images in the exact upstream binary format and read them back.
    let tmp = tempfile::tempdir().unwrap();
    let images: Vec<[u8; CIFAR_PIXELS]> = (0..20)
        .map(|i| set.image(i).unwrap().try_into().unwrap())
        .collect();
    let bin = tmp.path().join("test_batch.bin");
    write_cifar_bin(&bin, CifarKind::Cifar10, &images, &FOOLBOX_LABELS, &[]).unwrap();
    assert_eq!(std::fs::metadata(&bin).unwrap().len(), 20 * 3073);
    let from_bin =
        CifarDataset::from_dir(tmp.path(), CifarKind::Cifar10, CifarSplit::Test).unwrap();
    assert_eq!(from_bin.labels(), FOOLBOX_LABELS);
    for i in 0..20 {
        assert_eq!(from_bin.image(i), set.image(i));
    }
    // Real photographs are not flat: every channel varies.
    for i in 0..20 {
        let im = set.image(i).unwrap();
        for c in 0..3 {
            let plane = &im[c * 1024..(c + 1) * 1024];
            assert!(plane.iter().max() > plane.iter().min());
        }
    }

    let device = Device::flex();
    let items: Vec<CifarItem> = (0..20).map(|i| set.get(i).unwrap()).collect();
    let batch = CifarBatcher::new(CifarTransform::train(7)).batch(items.clone(), &device);
    assert_eq!(batch.images.dims(), [20, 3, 32, 32]);
    let eval = CifarBatcher::new(CifarTransform::eval()).batch(items, &device);
    let v = eval.images.into_data().try_to_vec::<f32>().unwrap();
    for image in v.chunks(CIFAR_PIXELS) {
        let mean = image.iter().sum::<f32>() / CIFAR_PIXELS as f32;
        assert!(mean.abs() < 1e-4);
    }
    let _ = dir;
}

#[test]
fn cifar100_upstream_format_with_real_pixels() {
    // CIFAR-100 records (coarse, fine, 3072 pixels) written from the real CIFAR-10 images
    // when present, else from a synthetic pattern; the loader must read back exactly.
    let images: Vec<[u8; CIFAR_PIXELS]> = match cached(DatasetName::Cifar10Samples) {
        Some(_) => {
            let set = CifarDataset::cifar10_samples(None).unwrap();
            (0..20)
                .map(|i| set.image(i).unwrap().try_into().unwrap())
                .collect()
        }
        None => (0..20u8)
            .map(|i| std::array::from_fn(|j| (j as u8).wrapping_mul(i)))
            .collect(),
    };
    let fine: Vec<u8> = (0..20).map(|i| (i * 5 + 4) as u8).collect();
    let coarse: Vec<u8> = (0..20).map(|i| i as u8).collect();
    let tmp = tempfile::tempdir().unwrap();
    write_cifar_bin(
        &tmp.path().join("train.bin"),
        CifarKind::Cifar100,
        &images,
        &fine,
        &coarse,
    )
    .unwrap();
    write_cifar_bin(
        &tmp.path().join("test.bin"),
        CifarKind::Cifar100,
        &images[..4],
        &fine[..4],
        &coarse[..4],
    )
    .unwrap();
    let train = CifarDataset::from_dir(tmp.path(), CifarKind::Cifar100, CifarSplit::Train).unwrap();
    let test = CifarDataset::from_dir(tmp.path(), CifarKind::Cifar100, CifarSplit::Test).unwrap();
    assert_eq!((train.len(), test.len()), (20, 4));
    assert_eq!(train.labels(), fine);
    assert_eq!(train.coarse_label(19), Some(19));
    assert_eq!(train.image(13).unwrap(), &images[13][..]);
    assert_eq!(train.class_counts().len(), 100);
}
