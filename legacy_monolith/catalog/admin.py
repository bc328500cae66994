from django.contrib import admin

from legacy_monolith.catalog.models import (
    Brand,
    Category,
    DigitalProduct,
    Product,
    ProductImage,
    ProductVariant,
    Tag,
)


class VariantInline(admin.TabularInline):
    model = ProductVariant
    extra = 0


class ImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "brand", "base_price", "is_active", "rating_avg")
    list_filter = ("is_active", "category")
    search_fields = ("name", "slug", "variants__sku")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [VariantInline, ImageInline]


admin.site.register(Category, list_display=("name", "slug", "parent"), search_fields=("name",))
admin.site.register(Brand, search_fields=("name",))
admin.site.register(Tag)
admin.site.register(DigitalProduct, list_display=("name", "download_url"))
admin.site.register(ProductVariant, list_display=("sku", "product", "price"), search_fields=("sku",))
