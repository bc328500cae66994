"""The catalog domain as the service declares it to the seam: how each aggregate of the contract
is read from, written to and listed in this side's tables.

`state(apply(s)) == s` holds byte for byte (the seam compares checksums of both sides), so every
list has one order, the same on both sides: variants by id, images by position then url, tags by
name (sorted in Python, not by the database's collation).
"""

from __future__ import annotations

from collections.abc import Iterable

from extracted.catalog import contract
from extracted.catalog.models import Brand, Category, Product, ProductImage, ProductVariant, Tag
from extracted.seam.domains import Aggregate, Domain

# Categories


def category_state(key: int) -> contract.CategoryState | None:
    row = Category.objects.filter(pk=key).values("id", "name", "slug", "parent_id").first()
    return None if row is None else contract.CategoryState(**row)


def apply_category(state: contract.CategoryState) -> None:
    Category.objects.update_or_create(
        id=state.id, defaults={"name": state.name, "slug": state.slug, "parent_id": state.parent_id}
    )


def remove_category(key: int) -> None:
    # PROTECT refuses while products are in it, as it does on the owner.
    Category.objects.filter(pk=key).delete()


def category_keys() -> list[int]:
    return list(Category.objects.order_by("id").values_list("id", flat=True))


# Brands


def brand_state(key: int) -> contract.BrandState | None:
    row = Brand.objects.filter(pk=key).values("id", "name", "slug").first()
    return None if row is None else contract.BrandState(**row)


def apply_brand(state: contract.BrandState) -> None:
    Brand.objects.update_or_create(id=state.id, defaults={"name": state.name, "slug": state.slug})


def remove_brand(key: int) -> None:
    Brand.objects.filter(pk=key).delete()


def brand_keys() -> list[int]:
    return list(Brand.objects.order_by("id").values_list("id", flat=True))


# Products, with their variants, images, tags and digital part


def product_state(key: int) -> contract.ProductState | None:
    product = Product.objects.filter(pk=key).prefetch_related("variants", "images", "tags").first()
    if product is None:
        return None
    variants = sorted(product.variants.all(), key=lambda v: v.id)
    images = sorted(product.images.all(), key=lambda i: (i.position, i.url))
    digital = (
        contract.DigitalState(
            download_url=product.download_url,
            license_key_required=product.license_key_required,
        )
        if product.is_digital
        else None
    )
    return contract.ProductState(
        id=product.id,
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
        tags=sorted(tag.name for tag in product.tags.all()),
        variants=[
            contract.VariantState(
                id=v.id,
                sku=v.sku,
                name=v.name,
                price=v.price,
                weight_grams=v.weight_grams,
                attributes=v.attributes,
            )
            for v in variants
        ],
        images=[contract.ImageState(url=i.url, alt=i.alt, position=i.position) for i in images],
        digital=digital,
    )


def apply_product(state: contract.ProductState) -> None:
    digital = state.digital
    product, _ = Product.objects.update_or_create(
        id=state.id,
        defaults={
            "name": state.name,
            "slug": state.slug,
            "description": state.description,
            "category_id": state.category_id,
            "brand_id": state.brand_id,
            "base_price": state.base_price,
            "is_active": state.is_active,
            "rating_avg": state.rating_avg,
            "rating_count": state.rating_count,
            "created_at": state.created_at,
            "updated_at": state.updated_at,
            "is_digital": digital is not None,
            "download_url": digital.download_url if digital else "",
            "license_key_required": digital.license_key_required if digital else False,
        },
    )
    _apply_variants(product, state.variants)
    _apply_images(product, state.images)
    product.tags.set([Tag.objects.get_or_create(name=name)[0] for name in state.tags])


def _apply_variants(product: Product, variants: Iterable[contract.VariantState]) -> None:
    """Exactly the listed variants: the others are deleted, the listed ones upserted by id."""
    variants = list(variants)
    for stale in product.variants.exclude(id__in=[v.id for v in variants]):
        stale.delete()
    for v in variants:
        ProductVariant.objects.update_or_create(
            id=v.id,
            defaults={
                "product": product,
                "sku": v.sku,
                "name": v.name,
                "price": v.price,
                "weight_grams": v.weight_grams,
                "attributes": v.attributes,
            },
        )


def _apply_images(product: Product, images: Iterable[contract.ImageState]) -> None:
    """Images have no identity in the contract: when the list differs, it is replaced whole."""
    wanted = [(i.url, i.alt, i.position) for i in images]
    have = [
        (i.url, i.alt, i.position)
        for i in sorted(product.images.order_by("id"), key=lambda i: (i.position, i.url))
    ]
    if have == wanted:
        return
    for image in product.images.all():
        image.delete()
    for url, alt, position in wanted:
        ProductImage.objects.create(product=product, url=url, alt=alt, position=position)


def remove_product(key: int) -> None:
    # Variants, images and tag links go with it (CASCADE).
    Product.objects.filter(pk=key).delete()


def product_keys() -> list[int]:
    return list(Product.objects.order_by("id").values_list("id", flat=True))


CATALOG = Domain(
    "catalog",
    [
        Aggregate(
            contract.CATEGORY,
            root="catalog.Category",
            state=category_state,
            apply=apply_category,
            remove=remove_category,
            keys=category_keys,
        ),
        Aggregate(
            contract.BRAND,
            root="catalog.Brand",
            state=brand_state,
            apply=apply_brand,
            remove=remove_brand,
            keys=brand_keys,
        ),
        Aggregate(
            contract.PRODUCT,
            root="catalog.Product",
            members={
                "catalog.ProductVariant": "product_id",
                "catalog.ProductImage": "product_id",
                "catalog.Product_tags": "product_id",
            },
            state=product_state,
            apply=apply_product,
            remove=remove_product,
            keys=product_keys,
        ),
    ],
)
