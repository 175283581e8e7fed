from django.db import migrations

IMMUTABLE = """
CREATE FUNCTION warehouse_ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock movements are immutable: post a correcting movement instead'
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER stock_movement_immutable BEFORE UPDATE OR DELETE ON warehouse_stockmovement
    FOR EACH ROW EXECUTE FUNCTION warehouse_ledger_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("warehouse", "0001_initial")]

    operations = [
        migrations.RunSQL(IMMUTABLE, "DROP TRIGGER stock_movement_immutable ON warehouse_stockmovement; "
                                     "DROP FUNCTION warehouse_ledger_immutable();"),
        # document numbers: one sequence, never reused, no gaps under concurrency that matter
        migrations.RunSQL("CREATE SEQUENCE warehouse_document_number", "DROP SEQUENCE warehouse_document_number"),
    ]
