"""A rotated view as a DICOM Secondary Capture: derived, in the input's bit depth, labelled, anonymous by default.

ImageType DERIVED\\SECONDARY, conversion type WSD (workstation), MONOCHROME2. Nothing of
the source's patient or study is copied unless the user files the view with its
source study (`link_to_source`): then the Patient and General Study modules are
copied, the series is new, and the source image is referenced. UIDs are derived
from the content (model, angles, seed, pixels), so one request always gives the
same file.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from components.pixels import quantise
from components.sampling.labels import MARK, SOFTWARE, Provenance

PATIENT = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex")
STUDY = ("StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
         "StudyDescription")


def _uid(kind: str, seed: bytes) -> str:
    return generate_uid(entropy_srcs=[kind, hashlib.sha256(seed).hexdigest()])


def secondary_capture(image01: np.ndarray, bit_depth: int, provenance: Provenance, source: Dataset | None = None,
                      link_to_source: bool = False) -> bytes:
    if link_to_source and source is None:
        raise ValueError("--link-to-source needs a DICOM input: there is no source study to file the view with")
    pixels = quantise(image01, 16 if bit_depth == 16 else 8)
    content = pixels.tobytes() + repr(provenance).encode()
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: the mark's dash, the degree signs, copied names
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = _uid("instance", content)
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.ConversionType = "WSD"
    ds.Modality = "OT"
    ds.Manufacturer = "RadRotator"
    ds.SoftwareVersions = SOFTWARE
    ds.SeriesDescription = f"RadRotator synthetic view {provenance.angle_text}"[:64]
    ds.DerivationDescription = provenance.description()[:1024]
    ds.ImageComments = f"{MARK}. {provenance.description()}"[:10240]
    ds.BurnedInAnnotation = "NO"
    ds.SeriesInstanceUID = _uid("series", content)
    ds.SeriesNumber = 9001
    ds.InstanceNumber = 1
    if link_to_source:
        for keyword in (*PATIENT, *STUDY):
            if keyword in source:
                setattr(ds, keyword, source.data_element(keyword).value)
        if "SOPInstanceUID" in source:
            reference = Dataset()
            reference.ReferencedSOPClassUID = source.SOPClassUID
            reference.ReferencedSOPInstanceUID = source.SOPInstanceUID
            ds.SourceImageSequence = [reference]
    else:  # anonymous: type 2 attributes present and empty, a study of its own
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "", "", "", ""
        ds.StudyInstanceUID = _uid("study", content)
        ds.StudyDate, ds.StudyTime, ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "", "", "", ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = ds.BitsStored = 16 if pixels.dtype == np.uint16 else 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()
