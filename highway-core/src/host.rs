//! Tensor values read on the host, in place where Burn's CPU backend holds them.
//!
//! The CPU fast paths (this crate's stacks, `rhn`'s recurrence, `models`' softmax loss)
//! compute on host values. Burn's `to_data` and `into_data` copy a buffer that another tensor
//! still holds, and a model's parameters always are held (by the model): each step copied
//! every weight it read, 10 MB a step for the tied `[10000, 256]` embedding of the RHN's
//! `ptb_small`, on one thread while the other waited. With this crate's `flex` feature,
//! [`HostValues::read`] borrows the buffer of a contiguous `f32` tensor of Burn's `flex`
//! backend (through Burn's backend extension API, `Tensor::try_into_primitive`); anything else
//! (another backend, an autodiff tensor, a strided view, another dtype) it copies as `to_data`
//! does.

use burn::tensor::{Tensor, TensorData};

/// The values of a tensor on the host as `f32`, row-major: borrowed from Burn's `flex` buffer
/// where they can be, else copied ([module docs](self)).
pub struct HostValues(Values);

enum Values {
    /// A contiguous `f32` tensor of `flex`, sharing its buffer.
    #[cfg(feature = "flex")]
    Flex(burn::backend::flex::FlexTensor),
    /// Anything else, copied.
    Data(TensorData),
}

impl HostValues {
    /// The values of `tensor`.
    ///
    /// # Shapes
    ///
    /// - `tensor`: any; its values come in row-major order
    pub fn read<const D: usize>(tensor: &Tensor<D>) -> Self {
        #[cfg(feature = "flex")]
        if tensor.dtype() == burn::tensor::DType::F32
            && let Ok(t) = tensor.clone().try_into_primitive::<burn::backend::Flex>()
            && t.as_slice::<f32>().is_some()
        {
            return Self(Values::Flex(t));
        }
        Self(Values::Data(tensor.to_data().convert::<f32>()))
    }

    /// Whether the values are read in place, not copied.
    pub fn borrowed(&self) -> bool {
        match self.0 {
            #[cfg(feature = "flex")]
            Values::Flex(_) => true,
            Values::Data(_) => false,
        }
    }
}

impl std::ops::Deref for HostValues {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match &self.0 {
            #[cfg(feature = "flex")]
            Values::Flex(t) => t.as_slice::<f32>().expect("checked when read"),
            Values::Data(data) => data.as_slice::<f32>().expect("f32 tensor values"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{DType, Device, Distribution};

    fn copied<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn reads_the_values_of_every_kind_of_tensor() {
        let device = Device::flex();
        let t = Tensor::<2>::random([5, 7], Distribution::Default, &device);
        let shared = t.clone();
        let read = HostValues::read(&t);
        assert_eq!(&*read, copied(&shared).as_slice());
        assert_eq!(read.borrowed(), cfg!(feature = "flex"));
        // A view at an offset, a strided view, an autodiff tensor, another dtype.
        let narrow = t.clone().slice([2..4, 0..7]);
        assert_eq!(&*HostValues::read(&narrow), copied(&narrow).as_slice());
        let transposed = t.clone().transpose();
        let read = HostValues::read(&transposed);
        assert!(!read.borrowed());
        assert_eq!(&*read, copied(&transposed).as_slice());
        let tracked = Tensor::<2>::from_data(t.to_data(), &device.autodiff()).require_grad();
        let read = HostValues::read(&tracked);
        assert!(!read.borrowed());
        assert_eq!(&*read, copied(&t).as_slice());
        let half = t.clone().cast(DType::F16);
        assert_eq!(&*HostValues::read(&half), copied(&half).as_slice());
    }

    /// Two reads of a tensor the caller still holds share its buffer: nothing was copied.
    #[cfg(feature = "flex")]
    #[test]
    fn a_held_flex_tensor_is_read_in_place() {
        let t = Tensor::<2>::random([300, 40], Distribution::Default, &Device::flex());
        let (a, b) = (HostValues::read(&t), HostValues::read(&t));
        assert!(a.borrowed() && b.borrowed());
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(a.len(), 300 * 40);
    }
}
