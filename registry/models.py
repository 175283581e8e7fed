"""The register of entitled citizens: persons, their registers, benefit rights, НСУ refusals,
inclusion requests, Social Fund imports, and the log of who looked a person up."""

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Lower, Replace
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.utils import timezone

from llo.audit import tracked
from llo.models import BenefitCategory, Diagnosis, Organization, Program, User


class Sex(models.TextChoices):
    MALE = "M", "мужской"
    FEMALE = "F", "женский"


class RegisterKind(models.TextChoices):
    FEDERAL = "federal", "Федеральный регистр (СФР)"
    REGIONAL = "regional", "Региональный регистр"
    ADDITIONAL = "additional", "Дополнительный регистр"


class RightSource(models.TextChoices):
    SFR = "sfr", "Федеральный регистр СФР"
    REGIONAL = "regional", "Решение региона"
    MANUAL = "manual", "Внесено вручную"


class DisabilityGroup(models.TextChoices):
    NONE = "", "—"
    FIRST = "1", "I группа"
    SECOND = "2", "II группа"
    THIRD = "3", "III группа"
    CHILD = "child", "ребёнок-инвалид"


@tracked(exclude=["updated_at", "search_name"])  # the database derives search_name
class Person(models.Model):
    """A citizen the region may provide for. A merged duplicate stays, pointing at the survivor."""

    snils = models.CharField("СНИЛС", max_length=11, null=True, blank=True)
    last_name = models.CharField("фамилия", max_length=100)
    first_name = models.CharField("имя", max_length=100)
    patronymic = models.CharField("отчество", max_length=100, blank=True)
    # lower-cased «фамилия имя отчество» kept by the database, for the trigram name search
    search_name = models.GeneratedField(  # what name search matches: lower case, ё as е (as people type)
        expression=Replace(Lower(Concat(F("last_name"), Value(" "), F("first_name"), Value(" "), F("patronymic"))),
                           Value("ё"), Value("е")),
        output_field=models.CharField(max_length=302), db_persist=True,
    )
    birth_date = models.DateField("дата рождения")
    sex = models.CharField("пол", max_length=1, choices=Sex.choices)
    oms_policy = models.CharField("полис ОМС", max_length=20, blank=True)
    document_type = models.CharField("вид документа", max_length=3, blank=True)
    document_number = models.CharField("серия и номер документа", max_length=40, blank=True)
    address = models.CharField("адрес регистрации", max_length=500, blank=True)
    region_code = models.CharField("субъект РФ регистрации", max_length=2, blank=True)
    is_out_of_town = models.BooleanField("иногородний", default=False)
    attached_mo = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="attached_persons",
        verbose_name="МО прикрепления", limit_choices_to={"kind": "medical_org"}, db_index=False,  # person_mo_name
    )
    death_date = models.DateField("дата смерти", null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged", verbose_name="объединён с",
        db_index=False,  # few rows are merged; they are found from the survivor's page by this partial index
    )
    created_at = models.DateTimeField("создан", default=timezone.now)
    updated_at = models.DateTimeField("изменён", default=timezone.now)

    class Meta:
        verbose_name = "гражданин"
        verbose_name_plural = "граждане"
        ordering = ["last_name", "first_name", "patronymic", "birth_date"]
        constraints = [
            # one live record per SNILS: duplicates by SNILS are refused, not merged later
            models.UniqueConstraint(fields=["snils"], condition=Q(merged_into__isnull=True), name="person_snils_live"),
            models.CheckConstraint(condition=Q(snils__regex=r"^\d{11}$"), name="person_snils_digits"),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="person_sex_known"),
            models.CheckConstraint(condition=Q(death_date__isnull=True) | Q(death_date__gte=F("birth_date")),
                                   name="person_death_after_birth"),
            models.CheckConstraint(condition=~Q(merged_into=F("pk")), name="person_not_merged_into_self"),
        ]
        indexes = [
            models.Index(fields=["oms_policy"], condition=~Q(oms_policy=""), name="person_policy_idx"),
            models.Index(fields=["birth_date"], name="person_birth_idx"),
            # an MO's patients by the start of their name: the doctor types the surname first
            models.Index(F("attached_mo"), OpClass(F("search_name"), name="text_pattern_ops"),
                         condition=Q(merged_into__isnull=True), name="person_mo_name"),
            GinIndex(OpClass(F("search_name"), name="gin_trgm_ops"), name="person_name_trgm"),
            models.Index(fields=["merged_into"], condition=Q(merged_into__isnull=False), name="person_merged_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.patronymic) if p)


@tracked()
class RegisterEntry(models.Model):
    """A person's membership of a register for a period (the federal one comes from the Social Fund)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="register_entries",
                               db_index=False)  # register_entry_unique leads with it
    register = models.CharField("регистр", max_length=12, choices=RegisterKind.choices)
    included_on = models.DateField("включён")
    excluded_on = models.DateField("исключён", null=True, blank=True)
    source = models.CharField("источник", max_length=10, choices=RightSource.choices)
    basis = models.CharField("основание", max_length=300, blank=True)

    class Meta:
        verbose_name = "запись регистра"
        verbose_name_plural = "записи регистров"
        constraints = [
            models.UniqueConstraint(fields=["person", "register", "included_on"], name="register_entry_unique"),
            models.CheckConstraint(condition=Q(register__in=RegisterKind.values), name="register_kind_known"),
            models.CheckConstraint(condition=Q(excluded_on__isnull=True) | Q(excluded_on__gte=F("included_on")),
                                   name="register_dates_ordered"),
        ]


@tracked(exclude=["updated_at"])
class BenefitRight(models.Model):
    """A person's right under one program and category for a period. Rights from the Social Fund
    carry `external_key` (SNILS, category, start date), by which each import finds them again."""

    # the indexes below lead with person and program; categories and diagnoses are never deleted
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="rights", verbose_name="гражданин",
                               db_index=False)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="rights", verbose_name="программа",
                                db_index=False)
    category = models.ForeignKey(BenefitCategory, on_delete=models.PROTECT, related_name="rights",
                                 verbose_name="льготная категория", db_index=False)
    valid_from = models.DateField("действует с")
    valid_to = models.DateField("действует по", null=True, blank=True)
    source = models.CharField("источник", max_length=10, choices=RightSource.choices)
    document_name = models.CharField("документ-основание", max_length=300, blank=True)
    document_number = models.CharField("серия и номер документа", max_length=60, blank=True)
    document_date = models.DateField("дата документа", null=True, blank=True)
    diagnosis = models.ForeignKey(Diagnosis, on_delete=models.PROTECT, null=True, blank=True, related_name="rights",
                                  verbose_name="заболевание (МКБ-10)", db_index=False)
    disability_group = models.CharField("группа инвалидности", max_length=5, choices=DisabilityGroup.choices,
                                        blank=True, default=DisabilityGroup.NONE)
    external_key = models.CharField("ключ в регистре СФР", max_length=40, null=True, blank=True)
    created_at = models.DateTimeField("создано", default=timezone.now)
    updated_at = models.DateTimeField("изменено", default=timezone.now)

    class Meta:
        verbose_name = "льготное право"
        verbose_name_plural = "льготные права"
        constraints = [
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                                   name="right_dates_ordered"),
            models.CheckConstraint(condition=Q(source__in=RightSource.values), name="right_source_known"),
            models.CheckConstraint(condition=Q(disability_group__in=DisabilityGroup.values), name="right_group_known"),
            models.UniqueConstraint(fields=["external_key"], name="right_external_key_unique"),
        ]
        indexes = [models.Index(fields=["person", "valid_from"], name="right_person_idx"),
                   models.Index(fields=["program", "valid_from"], name="right_program_idx")]

    def __str__(self) -> str:
        return f"{self.program.code} / {self.category.federal_code}"

    def is_valid_on(self, day) -> bool:
        return self.valid_from <= day and (self.valid_to is None or self.valid_to >= day)


@tracked()
class NsuRefusal(models.Model):
    """The person's choice about the drug part of the social-services set (НСУ) for a year: an
    application by 1 October takes effect from 1 January next year."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="refusals",
                               db_index=False)  # refusal_person_year leads with it
    year = models.PositiveSmallIntegerField("год")
    refused = models.BooleanField("отказ от лекарственной части НСУ")
    applied_on = models.DateField("дата заявления", null=True, blank=True)
    source = models.CharField("источник", max_length=10, choices=RightSource.choices)

    class Meta:
        verbose_name = "выбор по НСУ"
        verbose_name_plural = "выбор по НСУ (отказы)"
        constraints = [
            models.UniqueConstraint(fields=["person", "year"], name="refusal_person_year"),
            models.CheckConstraint(condition=Q(year__gte=2005, year__lte=2100), name="refusal_year_range"),
        ]


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", "На рассмотрении"
    APPROVED = "approved", "Одобрена"
    REJECTED = "rejected", "Отклонена"


@tracked()
class InclusionRequest(models.Model):
    """An MO asks the ministry to include a patient into a register with a right."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="inclusion_requests",
                                     verbose_name="МО")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name="подал")
    created_at = models.DateTimeField("подана", default=timezone.now)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="requests",
                               verbose_name="гражданин")
    # a patient not yet in the register
    snils = models.CharField("СНИЛС", max_length=11, blank=True)
    last_name = models.CharField("фамилия", max_length=100, blank=True)
    first_name = models.CharField("имя", max_length=100, blank=True)
    patronymic = models.CharField("отчество", max_length=100, blank=True)
    birth_date = models.DateField("дата рождения", null=True, blank=True)
    sex = models.CharField("пол", max_length=1, choices=Sex.choices, blank=True)
    oms_policy = models.CharField("полис ОМС", max_length=20, blank=True)
    address = models.CharField("адрес", max_length=500, blank=True)
    register = models.CharField("регистр", max_length=12, choices=RegisterKind.choices, default=RegisterKind.REGIONAL)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+", verbose_name="программа")
    category = models.ForeignKey(BenefitCategory, on_delete=models.PROTECT, related_name="+", verbose_name="категория")
    diagnosis = models.ForeignKey(Diagnosis, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name="заболевание")
    disability_group = models.CharField("группа инвалидности", max_length=5, choices=DisabilityGroup.choices,
                                        blank=True)
    document_name = models.CharField("документ-основание", max_length=300)
    document_number = models.CharField("номер документа", max_length=60, blank=True)
    valid_from = models.DateField("право с")
    valid_to = models.DateField("право по", null=True, blank=True)
    comment = models.TextField("комментарий МО", blank=True)
    status = models.CharField("статус", max_length=10, choices=RequestStatus.choices, default=RequestStatus.SUBMITTED)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name="рассмотрел")
    decided_at = models.DateTimeField("рассмотрена", null=True, blank=True)
    decision_reason = models.TextField("причина решения", blank=True)
    right = models.ForeignKey(BenefitRight, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name="созданное право")

    class Meta:
        verbose_name = "заявка на включение в регистр"
        verbose_name_plural = "заявки на включение в регистр"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RequestStatus.values), name="request_status_known"),
            models.CheckConstraint(condition=Q(person__isnull=False) | (Q(birth_date__isnull=False) & ~Q(last_name="")),
                                   name="request_names_a_person"),
            models.CheckConstraint(condition=Q(status="submitted") | Q(decided_at__isnull=False),
                                   name="request_decision_dated"),
        ]


class ImportSource(models.TextChoices):
    DBF = "dbf", "Файлы C_REGO / C_REGL"
    SOAP = "soap", "Сервис изменений СФР"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "В очереди"
    RUNNING = "running", "Выполняется"
    SUCCEEDED = "succeeded", "Загружено"
    FAILED = "failed", "Ошибка"


class SfrImport(models.Model):
    """One load of the Social Fund register: a DBF pair (a full snapshot) or a delta from the service."""

    source = models.CharField("источник", max_length=5, choices=ImportSource.choices)
    status = models.CharField("статус", max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    persons_file = models.CharField("файл C_REGO", max_length=500, blank=True)
    rights_file = models.CharField("файл C_REGL", max_length=500, blank=True)
    file_date = models.DateField("дата выгрузки", null=True, blank=True)
    from_version = models.PositiveBigIntegerField("с версии", null=True, blank=True)
    to_version = models.PositiveBigIntegerField("по версию", null=True, blank=True)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_at = models.DateTimeField("запрошено", default=timezone.now)
    started_at = models.DateTimeField("начато", null=True, blank=True)
    finished_at = models.DateTimeField("завершено", null=True, blank=True)
    persons_read = models.PositiveIntegerField("записей о гражданах", default=0)
    rights_read = models.PositiveIntegerField("записей о льготах", default=0)
    persons_added = models.PositiveIntegerField("граждан добавлено", default=0)
    persons_changed = models.PositiveIntegerField("граждан изменено", default=0)
    rights_added = models.PositiveIntegerField("прав добавлено", default=0)
    rights_changed = models.PositiveIntegerField("прав изменено", default=0)
    rights_closed = models.PositiveIntegerField("прав закрыто", default=0)
    conflicts = models.PositiveIntegerField("граждан с пересечением прав", default=0)
    rejected = models.PositiveIntegerField("записей отклонено", default=0)
    error = models.TextField("ошибка", blank=True)

    class Meta:
        verbose_name = "загрузка регистра СФР"
        verbose_name_plural = "загрузки регистра СФР"
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source"], condition=Q(status__in=["queued", "running"]),
                                    name="sfr_one_active_import_per_source"),
        ]

    @property
    def is_active(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)


class SfrReject(models.Model):
    """A record of an import that was not loaded, and why."""

    sfr_import = models.ForeignKey(SfrImport, on_delete=models.CASCADE, related_name="rejects")
    kind = models.CharField("вид записи", max_length=10)  # person / right
    row_no = models.PositiveIntegerField("запись")
    snils = models.CharField("СНИЛС", max_length=20, blank=True)
    reason = models.CharField("причина", max_length=500)

    class Meta:
        verbose_name = "отклонённая запись"
        verbose_name_plural = "отклонённые записи"
        ordering = ["kind", "row_no"]


class PersonLookup(models.Model):
    """Who looked whose record up, how and from where: personal data is read under a trace."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="lookups")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, related_name="+")
    method = models.CharField("способ", max_length=20)  # snils / policy / name / qr / card / api
    at = models.DateTimeField("когда", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "обращение к данным гражданина"
        verbose_name_plural = "журнал обращений к данным граждан"
        ordering = ["-at"]
