"""The catalog as the seam sees it on the monolith's side: how to read each aggregate's state from
the shop's tables, and how to write a state the catalog service sends back after the flip."""

from __future__ import annotations

from django.db import transaction

from extracted.catalog import contract
from extracted.seam.domains import Aggregate, Domain
from legacy_monolith.catalog.models import (
    Brand,
    Category,
    DigitalProduct,
    Product,
    ProductImage,
    ProductVariant,
    Tag,
)


def category_state(key: int) -> contract.CategoryState | None:
    row = Category.objects.filter(pk=key).values("id", "name", "slug", "parent_id").first()
    return contract.CategoryState(**row) if row else None


def apply_category(state: contract.CategoryState) -> None:
    Category.objects.update_or_create(
        pk=state.id, defaults={"name": state.name, "slug": state.slug, "parent_id": state.parent_id}
    )


def brand_state(key: int) -> contract.BrandState | None:
    row = Brand.objects.filter(pk=key).values("id", "name", "slug").first()
    return contract.BrandState(**row) if row else None


def apply_brand(state: contract.BrandState) -> None:
    Brand.objects.update_or_create(pk=state.id, defaults={"name": state.name, "slug": state.slug})


def product_state(key: int) -> contract.ProductState | None:
    product = Product.objects.filter(pk=key).first()
    if product is None:
        return None
    digital = (
        DigitalProduct.objects.filter(pk=key).values("download_url", "license_key_required").first()
    )
    return contract.ProductState(
        id=product.pk,
        name=product.name,
        slug=product.slug,
        description=product.description,
        category_id=product.category_id,
        brand_id=product.brand_id,
        base_price=product.base_price,
        is_active=product.is_active,
        rating_avg=product.rating_avg,
        rating_count=product.rating_count,
        created_at=product.created_at,
        updated_at=product.updated_at,
        tags=sorted(product.tags.values_list("name", flat=True)),
        variants=[
            contract.VariantState(**v)
            for v in product.variants.order_by("id").values(
                "id", "sku", "name", "price", "weight_grams", "attributes"
            )
        ],
        # Sorted here, not by the database: a collation must not change the checksum.
        images=[
            contract.ImageState(**i)
            for i in sorted(
                product.images.values("url", "alt", "position"),
                key=lambda i: (i["position"], i["url"]),
            )
        ],
        digital=contract.DigitalState(**digital) if digital else None,
    )


def apply_product(state: contract.ProductState) -> None:
    fields = {
        "name": state.name, "slug": state.slug, "description": state.description,
        "category_id": state.category_id, "brand_id": state.brand_id, "base_price": state.base_price,
        "is_active": state.is_active, "rating_avg": state.rating_avg, "rating_count": state.rating_count,
    }  # fmt: skip
    with transaction.atomic():
        Product.objects.update_or_create(pk=state.id, defaults=fields)
        # auto_now would stamp the time of applying; the state's own times are the truth.
        Product.objects.filter(pk=state.id).update(
            created_at=state.created_at, updated_at=state.updated_at
        )
        product = Product.objects.get(pk=state.id)
        if state.digital is None:
            for digital in DigitalProduct.objects.filter(pk=state.id):
                digital.delete(keep_parents=True)
        else:
            # raw: write the child row only; the parent row is the one just written.
            DigitalProduct(product_ptr=product, **state.digital.model_dump()).save_base(raw=True)
        product.variants.exclude(pk__in=[v.id for v in state.variants]).delete()
        for variant in state.variants:
            ProductVariant.objects.update_or_create(
                pk=variant.id, defaults={**variant.model_dump(exclude={"id"}), "product": product}
            )
        product.images.all().delete()
        ProductImage.objects.bulk_create(
            ProductImage(product=product, **i.model_dump()) for i in state.images
        )
        product.tags.set([Tag.objects.get_or_create(name=name)[0] for name in state.tags])


def remove(model):
    def remove_row(key: int) -> None:
        model.objects.filter(pk=key).delete()

    return remove_row


def keys(model):
    def all_keys() -> list[int]:
        return list(model.objects.order_by("pk").values_list("pk", flat=True))

    return all_keys


CATALOG = Domain(
    "catalog",
    [
        Aggregate(contract.CATEGORY, root="catalog.Category", state=category_state, apply=apply_category,
                  remove=remove(Category), keys=keys(Category)),
        Aggregate(contract.BRAND, root="catalog.Brand", state=brand_state, apply=apply_brand,
                  remove=remove(Brand), keys=keys(Brand)),
        Aggregate(contract.PRODUCT, root="catalog.Product", state=product_state, apply=apply_product,
                  remove=remove(Product), keys=keys(Product),
                  members={"catalog.ProductVariant": "product_id", "catalog.ProductImage": "product_id",
                           "catalog.Product_tags": "product_id"}),
    ],
)  # fmt: skip
