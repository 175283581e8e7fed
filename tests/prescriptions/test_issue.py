from prescriptions.models import Status


def test_a_valid_prescription_is_issued_numbered_and_signed(issued, mo):
    assert issued.status == Status.ISSUED
    assert issued.series == f"{mo.region.code}{issued.issued_on.year % 100:02d}"
    assert issued.number.startswith(mo.code + "1")
    assert issued.document and issued.signature
