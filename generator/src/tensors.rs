//! Tensors in and out of ONNX Runtime in the number type a model declares (fp32, fp16, bf16):
//! the pipeline computes in f32 and converts at the model's edge.

use ort::value::{DynValue, Tensor};

use crate::manifest::Precision;
use crate::{GenError, GenResult};

/// A float tensor of `shape` holding `data`, in `precision`.
pub fn float(model: &'static str, precision: Precision, shape: &[usize], data: Vec<f32>) -> GenResult<DynValue> {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let err = |e: ort::Error| GenError::Model { model, message: e.to_string() };
    Ok(match precision {
        Precision::Fp32 => Tensor::from_array((shape, data)).map_err(err)?.into_dyn(),
        Precision::Fp16 => {
            let half: Vec<half::f16> = data.into_iter().map(half::f16::from_f32).collect();
            Tensor::from_array((shape, half)).map_err(err)?.into_dyn()
        }
        Precision::Bf16 => {
            let half: Vec<half::bf16> = data.into_iter().map(half::bf16::from_f32).collect();
            Tensor::from_array((shape, half)).map_err(err)?.into_dyn()
        }
    })
}

/// An int64 tensor.
pub fn int64(model: &'static str, shape: &[usize], data: Vec<i64>) -> GenResult<DynValue> {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Ok(Tensor::from_array((shape, data)).map_err(|e| GenError::Model { model, message: e.to_string() })?.into_dyn())
}

/// The shape and values of a float output, whichever float type the model wrote.
pub fn read_f32(model: &'static str, value: &DynValue) -> GenResult<(Vec<usize>, Vec<f32>)> {
    let dims = |s: &ort::value::Shape| s.iter().map(|&d| usize::try_from(d).unwrap_or(0)).collect::<Vec<_>>();
    if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
        return Ok((dims(shape), data.to_vec()));
    }
    if let Ok((shape, data)) = value.try_extract_tensor::<half::f16>() {
        return Ok((dims(shape), data.iter().map(|v| v.to_f32()).collect()));
    }
    match value.try_extract_tensor::<half::bf16>() {
        Ok((shape, data)) => Ok((dims(shape), data.iter().map(|v| v.to_f32()).collect())),
        Err(e) => Err(GenError::Model { model, message: format!("output is not a float tensor: {e}") }),
    }
}
